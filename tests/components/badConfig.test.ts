// The real program with bad config, in its own process: it stops before declaring any resource.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

// Sets mocks that count registrations, then loads index.ts; prints the count and the error it stopped with.
const PROBE = `
const pulumi = require("@pulumi/pulumi");
let count = 0;
pulumi.runtime.setMocks({ newResource: (a) => { count++; return { id: a.name, state: a.inputs }; }, call: () => ({}) }, "image-janitor", "bad", false);
try { require("./index.ts"); console.log(JSON.stringify({ count, error: null })); }
catch (e) { setTimeout(() => console.log(JSON.stringify({ count, error: e.message })), 200); }
`;

describe("program with bad config", function () {
    this.timeout(60_000);
    it("stops before any resource is declared, naming the key and the value", () => {
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", PROBE], {
            cwd: ROOT,
            encoding: "utf8",
            env: {
                ...process.env,
                PULUMI_CONFIG: JSON.stringify({
                    "image-janitor:validHours": "abc",
                    "aws:region": "us-east-1",
                }),
            },
        });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout.trim()), {
            count: 0,
            error: 'invalid config image-janitor:validHours must be a whole number 1 or more (got "abc")',
        });
    });
});

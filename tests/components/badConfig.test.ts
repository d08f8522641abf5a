// The real program with bad config, in its own process: it stops before declaring any resource.
import * as assert from "node:assert/strict";
import { runProgramProbe } from "../helpers";

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
        const result = runProgramProbe(PROBE, {
            "image-janitor:validHours": "abc",
            "aws:region": "us-east-1",
        });
        assert.deepEqual(result, {
            count: 0,
            error: 'invalid config image-janitor:validHours must be a whole number 1 or more (got "abc")',
        });
    });
});

// The dynamic provider as the Pulumi engine runs it: serialized from a mocked registration, loaded in a fresh
// Node process with require-from-string, then create and delete against moto server.
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateRepositoryCommand, type ECR, ListImagesCommand } from "@aws-sdk/client-ecr";
import * as pulumi from "@pulumi/pulumi";
import { repositoryEmptierProvider } from "../../components/repositoryEmptier";
import {
    MOTO_ACCOUNT_ID,
    MOTO_REGION,
    type Moto,
    motoCredentials,
    motoEcr,
    startMoto,
} from "../../runner/moto";
import { pushTestImages } from "../ecrImages";
import { requireFromString, runNode } from "../helpers";
import { outputValue, registrations } from "../setup";

const ROOT = join(__dirname, "..", "..");

// What @pulumi/pulumi/cmd/dynamic-provider does with the stored string, then the calls the engine makes.
const ENGINE = `
const fs = require("fs");
const provider = require("require-from-string")(fs.readFileSync(process.argv[1], "utf8")).handler();
const calls = JSON.parse(process.argv[2]);
(async () => {
  const out = {};
  for (const [method, args] of calls) out[method] = await provider[method](...args);
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  // What the engine reports is only as good as what it gets: a real Error with its message.
  process.stderr.write(JSON.stringify({ isError: e instanceof Error, name: e.name, message: e.message }));
  process.exit(1);
});
`;

describe("RepositoryEmptier dynamic provider", function () {
    this.timeout(120_000);
    let serialized: string;
    let dir: string;

    before(async () => {
        const { RepositoryEmptier } = await import("../../components/repositoryEmptier");
        const emptier = new RepositoryEmptier("provider-test", {
            repositoryName: "engine-test",
            registryId: MOTO_ACCOUNT_ID,
            region: MOTO_REGION,
        });
        await outputValue(emptier.id);
        const reg = registrations.find((r) => r.name === "provider-test");
        assert.ok(reg, "the dynamic resource was registered");
        assert.equal(reg.type, "pulumi-nodejs:dynamic/image-janitor:RepositoryEmptier");
        serialized = reg.inputs.__provider as string;
        dir = mkdtempSync(join(tmpdir(), "image-janitor-provider-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    async function engine(calls: [string, unknown[]][], env: NodeJS.ProcessEnv = {}) {
        const file = join(dir, "provider.js");
        writeFileSync(file, serialized);
        const r = await runNode(["-e", ENGINE, file, JSON.stringify(calls)], { cwd: ROOT, env });
        return { code: r.code, out: r.stdout ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
    }

    it("serializes without capturing an SDK client: the SDK is required inside the methods", async () => {
        for (const text of [
            serialized,
            (await pulumi.runtime.serializeFunction(() => repositoryEmptierProvider)).text,
        ]) {
            assert.match(text, /require\("@aws-sdk\/client-ecr"\)/);
            assert.equal(text.match(/new ECR\(/g)?.length, 1, "the only client is the one delete builds");
            assert.doesNotMatch(text, /require\("\.{1,2}\//, "no local module is required at run time");
            const provider = requireFromString(text).handler() as Record<string, unknown>;
            assert.deepEqual(
                ["check", "create", "diff", "delete"].map((m) => typeof provider[m]),
                ["function", "function", "function", "function"],
            );
        }
    });

    it("stores what delete needs, replaces on a new repository or region, and never on an equal one", async () => {
        const inputs = {
            repositoryName: "r1",
            registryId: MOTO_ACCOUNT_ID,
            region: "eu-west-1",
            __provider: "x",
        };
        const r = await engine([
            ["create", [inputs]],
            ["diff", ["id", { ...inputs, __provider: undefined }, { ...inputs, repositoryName: "r2" }]],
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.out.create, {
            id: `eu-west-1/${MOTO_ACCOUNT_ID}/r1`,
            outs: { repositoryName: "r1", registryId: MOTO_ACCOUNT_ID, region: "eu-west-1" },
        });
        assert.deepEqual(r.out.diff, {
            changes: true,
            replaces: ["repositoryName"],
            deleteBeforeReplace: false,
        });
        const same = await engine([["diff", ["id", inputs, { ...inputs }]]]);
        assert.deepEqual(same.out.diff, { changes: false, replaces: [], deleteBeforeReplace: false });
        const region = await engine([["diff", ["id", inputs, { ...inputs, region: "us-east-1" }]]]);
        assert.deepEqual(region.out.diff.replaces, ["region"]);
    });

    it("rejects an empty repository name at check time", async () => {
        const r = await engine([
            ["check", [{}, { repositoryName: "", registryId: MOTO_ACCOUNT_ID, region: MOTO_REGION }]],
        ]);
        assert.deepEqual(r.out.check.failures, [
            { property: "repositoryName", reason: 'repositoryName must be a non-empty string (got "")' },
        ]);
    });

    describe("against moto", () => {
        let moto: Moto;
        let ecr: ECR;
        const env = () => ({
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_ACCESS_KEY_ID: motoCredentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: motoCredentials.secretAccessKey,
        });
        before(async () => {
            moto = await startMoto();
            ecr = motoEcr(moto.endpoint);
        });
        after(async () => moto?.stop());

        it("create then delete empties the repository, and a second delete is harmless", async () => {
            await ecr.send(new CreateRepositoryCommand({ repositoryName: "engine-test" }));
            await pushTestImages(ecr, "engine-test", 120, (n) => n % 4);
            assert.equal(
                ((await ecr.send(new ListImagesCommand({ repositoryName: "engine-test" }))).imageIds ?? [])
                    .length > 100,
                true,
            );
            const inputs = {
                repositoryName: "engine-test",
                registryId: MOTO_ACCOUNT_ID,
                region: MOTO_REGION,
                __provider: serialized,
            };
            const created = await engine([["create", [inputs]]], env());
            assert.equal(created.code, 0, created.stderr);
            const { id, outs } = created.out.create;
            const deleted = await engine(
                [
                    ["delete", [id, outs]],
                    ["delete", [id, outs]],
                ],
                env(),
            );
            assert.equal(deleted.code, 0, deleted.stderr);
            assert.deepEqual(
                (await ecr.send(new ListImagesCommand({ repositoryName: "engine-test" }))).imageIds,
                [],
            );
        });

        it("delete of a repository that is already gone succeeds", async () => {
            const outs = { repositoryName: "gone-already", registryId: MOTO_ACCOUNT_ID, region: MOTO_REGION };
            const r = await engine([["delete", ["x", outs]]], env());
            assert.equal(r.code, 0, r.stderr);
        });

        it("a failed delete throws a real Error naming the repository, registry, region, call and AWS error code", async () => {
            await ecr.send(new CreateRepositoryCommand({ repositoryName: "locked" }));
            await pushTestImages(ecr, "locked", 2, () => 1);
            const outs = { repositoryName: "locked", registryId: MOTO_ACCOUNT_ID, region: MOTO_REGION };
            moto.proxy.setFaults((call) => (call.action === "BatchDeleteImage" ? "denied" : undefined));
            try {
                const r = await engine([["delete", ["x", outs]]], env());
                assert.equal(r.code, 1);
                assert.deepEqual(JSON.parse(r.stderr), {
                    isError: true,
                    name: "Error",
                    message:
                        `image-janitor could not empty ECR repository locked (registry ${MOTO_ACCOUNT_ID}, region ${MOTO_REGION}): ` +
                        "locked: BatchDeleteImage failed: AccessDeniedException: User: arn:aws:iam::123456789012:user/test is not authorized to perform this action",
                });
            } finally {
                moto.proxy.setFaults(undefined);
            }
        });
    });
});

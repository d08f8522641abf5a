// The esbuild artifacts `pulumi up` ships, run as Lambda runs them: alone in a folder with no node_modules (so the
// SDK must be inside the bundle), each given the very event the deployed definition sends it, against moto.
import * as assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeImagesCommand, DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { bundleFunction } from "../../components/bundle";
import { buildDefinition } from "../../components/definition";
import { settingsWith } from "../../functions/core/ami/settings";
import { hoursAgo, MOTO_ACCOUNT_ID, MOTO_REGION, type Moto, motoEc2, startMoto } from "../../runner/moto";
import { LOCAL_FUNCTION_ARNS } from "../../runner/run";
import { pageStates, runNode } from "../helpers";

const AMI = "ami-0b0000000000000b1";

describe("Lambda bundles", function () {
    this.timeout(120_000);
    let moto: Moto;
    let dir: string;

    before(async () => {
        moto = await startMoto({
            amis: [
                {
                    ami_id: AMI,
                    name: "bundled",
                    owner_id: MOTO_ACCOUNT_ID,
                    creation_date: hoursAgo(50),
                    state: "available",
                },
            ],
        });
        dir = mkdtempSync(join(tmpdir(), "image-janitor-bundles-"));
    });
    after(async () => {
        await moto?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    /** Runs the bundle's handler in a fresh Node process, from a folder where no SDK can be resolved. */
    async function invoke(name: string, event: unknown): Promise<{ ok: boolean; value: unknown }> {
        const file = join(dir, `${name}.js`);
        copyFileSync(bundleFunction(name), file);
        const r = await runNode(
            [
                "-e",
                `require(process.argv[1]).handler(JSON.parse(process.argv[2])).then(
                    (v) => console.log(JSON.stringify({ ok: true, value: v })),
                    (e) => console.log(JSON.stringify({ ok: false, value: { name: e.name, message: e.message } })))`,
                file,
                JSON.stringify(event),
            ],
            {
                cwd: dir,
                inheritEnv: false,
                env: {
                    PATH: process.env.PATH,
                    AWS_ENDPOINT_URL: moto.endpoint,
                    AWS_REGION: MOTO_REGION,
                    AWS_ACCESS_KEY_ID: "testing",
                    AWS_SECRET_ACCESS_KEY: "testing",
                },
            },
        );
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout.trim().split("\n").pop() ?? "null");
    }

    it("list, deregister and snapshots each run alone with the SDK inside, on the definition's own events", async () => {
        const settings = settingsWith({ validHours: 48, protectInUse: false });
        const d = buildDefinition({ functionArns: LOCAL_FUNCTION_ARNS, settings });
        const { map } = pageStates(d);
        // Step Functions resolves the ".$" paths; the rest of each event is the definition's, as written.
        const { "after.$": _after, ...listParams } = d.States.ListExpiredImagesState.Parameters as Record<
            string,
            unknown
        >;
        const listed = await invoke("list-expired-images", { ...listParams, after: "" });
        assert.equal(listed.ok, true, JSON.stringify(listed.value));
        const page = listed.value as { count: number; batches: { images: unknown[] }[] };
        assert.equal(page.count, 1);

        const { "images.$": _images, ...item } = map.ItemSelector;
        const batch = { ...item, images: page.batches[0].images };
        const deregistered = await invoke("deregister-image", batch);
        assert.equal(deregistered.ok, true, JSON.stringify(deregistered.value));

        const { "deregistered.$": _d, ...snapParams } =
            map.ItemProcessor.States.DeleteSnapshotState.Parameters;
        const result = await invoke("delete-snapshots", {
            ...batch,
            ...snapParams,
            deregistered: deregistered.value,
        });
        assert.equal(result.ok, true, JSON.stringify(result.value));
        assert.deepEqual((result.value as { summary: { deleted: number } }).summary.deleted, 1);

        const ec2 = motoEc2(moto.endpoint);
        assert.deepEqual((await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images, []);
        assert.deepEqual(
            (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots,
            [],
        );
    });

    for (const name of ["list-expired-images", "deregister-image", "delete-snapshots"]) {
        it(`${name} refuses an event without settings, naming the key`, async () => {
            assert.deepEqual(await invoke(name, { images: [] }), {
                ok: false,
                value: {
                    name: "ImageJanitor.InvalidInput",
                    message: "settings must be an object of cleanup settings (got undefined)",
                },
            });
        });
    }
});

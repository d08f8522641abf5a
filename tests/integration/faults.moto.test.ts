// Nothing half-done, with faults: the proxy in front of moto (runner/motoProxy.ts) answers a share of the calls with
// a 500, a 503, throttling, a reset connection, a stall past the client's deadline, or a lost answer (carried out,
// never answered). On moto as it is (it ignores DeleteAssociatedSnapshots): nothing that must stay is deleted,
// everything expired is gone after at most two runs, and no snapshot is orphaned; after a SIGKILL at any point,
// the next run leaves no orphan either. `npm run bench -- --faults` runs the larger scenario.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { settingsWith } from "../../functions/core/ami/settings";
import {
    faultScenario,
    MOTO_REGION,
    motoClients,
    motoCredentials,
    motoState,
    startMoto,
} from "../../runner/moto";
import { type Call, FAULT_KINDS, type FaultKind, seededFaults } from "../../runner/motoProxy";
import { runCleanup } from "../../runner/run";

const ROOT = join(__dirname, "..", "..");
describe("nothing half-done with faults, against moto server", function () {
    this.timeout(300_000);

    const plans: [string, (call: Call) => number, FaultKind[]][] = [
        ["10% of every call", () => 0.1, FAULT_KINDS],
        ["30% of every call", () => 0.3, FAULT_KINDS],
        [
            "DescribeImages throttled 60%",
            (call) => (call.action === "DescribeImages" ? 0.6 : 0),
            ["throttle"],
        ],
    ];
    for (const [what, share, kinds] of plans) {
        it(`${what}: nothing kept is deleted, all expired gone within two runs, no snapshot orphaned`, async () => {
            const { seed, expired, stay } = faultScenario(30, 20, 4);
            const moto = await startMoto({ amis: seed, proxy: { stallMs: 1_500 } });
            try {
                const before = await motoState(moto);
                moto.proxy.setFaults(seededFaults(20261202, share, kinds));
                const run = () =>
                    runCleanup({
                        clients: motoClients(moto.endpoint, 1000),
                        retryIntervalMs: 10,
                        backoff: { baseMs: 20, capMs: 200 },
                        settings: settingsWith({ validHours: 24, protectInUse: false }),
                    }).catch((err: Error) => err);
                const first = await run();
                const second = await run();
                moto.proxy.setFaults(undefined);
                const after = await motoState(moto);
                for (const keep of stay)
                    assert.deepEqual(
                        after.images.get(keep),
                        before.images.get(keep),
                        `${keep} and its snapshots stay`,
                    );
                assert.deepEqual(
                    expired.filter((x) => after.images.has(x)),
                    [],
                    `every expired AMI is gone after two runs (${first instanceof Error ? first.message : "first run done"}; ${second instanceof Error ? second.message : "second run done"})`,
                );
                assert.deepEqual(after.orphans, [], "no snapshot orphaned");
                assert.ok(Object.keys(moto.proxy.stats.faults).length > 0, "faults were injected");
            } finally {
                await moto.stop();
            }
        });
    }

    for (const killAfter of [1, 6, 14]) {
        it(`after a SIGKILL once ${killAfter} AMIs were sent to DeregisterImage, the next run leaves no orphan`, async () => {
            const { seed, expired, stay } = faultScenario(30, 20, 4);
            const moto = await startMoto({ amis: seed });
            try {
                const child = spawn(
                    process.execPath,
                    [
                        "-r",
                        "ts-node/register/transpile-only",
                        "runner/cli.ts",
                        "--valid-hours",
                        "24",
                        "--no-protect-in-use",
                    ],
                    {
                        cwd: ROOT,
                        env: {
                            ...process.env,
                            AWS_ENDPOINT_URL: moto.endpoint,
                            AWS_REGION: MOTO_REGION,
                            AWS_ACCESS_KEY_ID: motoCredentials.accessKeyId,
                            AWS_SECRET_ACCESS_KEY: motoCredentials.secretAccessKey,
                        },
                        stdio: "ignore",
                    },
                );
                const exited = new Promise((resolve) => child.on("exit", resolve));
                while (
                    (moto.proxy.stats.calls["ec2:DeregisterImage"] ?? 0) < killAfter &&
                    child.exitCode === null
                )
                    await new Promise((r) => setTimeout(r, 5));
                child.kill("SIGKILL");
                await exited;
                const cut = await motoState(moto);
                const next = await runCleanup({
                    clients: motoClients(moto.endpoint, 1000),
                    settings: settingsWith({ validHours: 24, protectInUse: false }),
                });
                const after = await motoState(moto);
                assert.deepEqual(next.failed, []);
                assert.deepEqual(
                    expired.filter((x) => after.images.has(x)),
                    [],
                );
                assert.deepEqual([...after.images.keys()].sort(), stay.sort());
                assert.deepEqual(after.orphans, [], `no orphan (the cut left ${cut.orphans.length})`);
            } finally {
                await moto.stop();
            }
        });
    }
});

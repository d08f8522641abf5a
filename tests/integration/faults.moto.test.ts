// Nothing half-done, with faults: the proxy in front of moto (runner/motoProxy.ts) answers a share of the calls with
// a 500, a 503, throttling, a reset connection, a stall past the client's deadline, or a lost answer (carried out,
// never answered). On moto as it is (it ignores DeleteAssociatedSnapshots): nothing that must stay is deleted,
// everything expired is gone after at most two runs, and no snapshot is orphaned; after a SIGKILL at any point,
// the next run leaves no orphan either. `npm run bench -- --faults` runs the larger scenario.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { settingsWith } from "../../functions/core/ami/settings";
import type { UsageClients } from "../../functions/core/ami/usage";
import { clientConfig } from "../../functions/core/shared/clients";
import {
    hoursAgo,
    MOTO_ACCOUNT_ID,
    MOTO_REGION,
    motoCredentials,
    motoState,
    type SeedAmi,
    startMoto,
} from "../../runner/moto";
import { type Call, FAULT_KINDS, type FaultKind, seededFaults } from "../../runner/motoProxy";
import { runCleanup } from "../../runner/run";

const ROOT = join(__dirname, "..", "..");
const id = (n: number) => `ami-0f${n.toString(16).padStart(15, "0")}`;

/** 20 expired AMIs to delete, 4 expired but kept by the keep tag, 6 young. */
function scenario(): { seed: SeedAmi[]; expired: string[]; stay: string[] } {
    const seed: SeedAmi[] = [];
    const expired: string[] = [];
    const stay: string[] = [];
    for (let n = 0; n < 30; n++) {
        const keep = n >= 20 && n < 24;
        const young = n >= 24;
        seed.push({
            ami_id: id(n),
            name: `faulty-${n}`,
            owner_id: MOTO_ACCOUNT_ID,
            creation_date: hoursAgo(young ? 2 : 100),
            state: "available",
            ...(keep ? { tags: { "image-janitor:keep": "true" } } : {}),
        });
        (keep || young ? stay : expired).push(id(n));
    }
    return { seed, expired, stay };
}

/** The product's client settings, with a deadline short enough for the proxy's stalls to break it. */
function clientsAt(endpoint: string): UsageClients {
    const config = {
        ...clientConfig,
        requestHandler: { ...clientConfig.requestHandler, requestTimeout: 1_000 },
        endpoint,
        region: MOTO_REGION,
        credentials: motoCredentials,
    };
    return {
        ec2: new EC2Client(config),
        autoScaling: new AutoScalingClient(config),
        ssm: new SSMClient(config),
    };
}

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
            const { seed, expired, stay } = scenario();
            const moto = await startMoto({ amis: seed, proxy: { stallMs: 1_500 } });
            try {
                const before = await motoState(moto);
                moto.proxy.setFaults(seededFaults(20261202, share, kinds));
                const run = () =>
                    runCleanup({
                        clients: clientsAt(moto.endpoint),
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
            const { seed, expired, stay } = scenario();
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
                    clients: clientsAt(moto.endpoint),
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

// `npm run bench -- --only faults`: the fault-injection scenario at full size. 300 AMIs in moto, of which 205 must go
// (45 expired but kept, 50 young), behind the proxy's faults: mixed faults at 10% and 30% of every call, and
// DescribeImages throttled 60%, each over several seeds; then a SIGKILL of `npm run cleanup` at several points,
// followed by a clean run. Prints a Markdown table; not a test (tests/integration/faults.moto.test.ts is).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { settingsWith } from "../functions/core/ami/settings";
import {
    faultScenario,
    MOTO_REGION,
    type Moto,
    motoClients,
    motoCredentials,
    motoState,
    startMoto,
} from "../runner/moto";
import { type Call, FAULT_KINDS, type FaultKind, seededFaults } from "../runner/motoProxy";
import { runCleanup } from "../runner/run";

const ROOT = join(__dirname, "..");
interface Outcome {
    wronglyDeleted: number;
    leftAfter: number[];
    orphansAfter: number[];
    faults: number;
    failedReported: number;
}

async function judge(moto: Moto, expired: string[], stay: string[], before: Map<string, string[]>) {
    const now = await motoState(moto);
    const wrong = stay.filter(
        (x) => JSON.stringify(now.images.get(x)) !== JSON.stringify(before.get(x)),
    ).length;
    return { wrong, left: expired.filter((x) => now.images.has(x)).length, orphans: now.orphans.length };
}

async function faultedRuns(
    share: (call: Call) => number,
    kinds: FaultKind[],
    seed: number,
): Promise<Outcome> {
    const { seed: amis, expired, stay } = faultScenario(300, 205, 45);
    const moto = await startMoto({ amis, proxy: { stallMs: 5_000 } });
    try {
        const before = (await motoState(moto)).images;
        moto.proxy.setFaults(seededFaults(seed, share, kinds));
        const out: Outcome = {
            wronglyDeleted: 0,
            leftAfter: [],
            orphansAfter: [],
            faults: 0,
            failedReported: 0,
        };
        for (let run = 1; run <= 2; run++) {
            const s = await runCleanup({
                clients: motoClients(moto.endpoint, 3000),
                settings: settingsWith({ validHours: 24, protectInUse: false }),
            }).catch(() => undefined);
            out.failedReported += s?.failed.length ?? 0;
            moto.proxy.setFaults(undefined);
            const j = await judge(moto, expired, stay, before);
            moto.proxy.setFaults(seededFaults(seed + run, share, kinds));
            out.wronglyDeleted = Math.max(out.wronglyDeleted, j.wrong);
            out.leftAfter.push(j.left);
            out.orphansAfter.push(j.orphans);
        }
        out.faults = Object.values(moto.proxy.stats.faults).reduce((a, b) => a + b, 0);
        return out;
    } finally {
        await moto.stop();
    }
}

async function killedRun(killAfter: number) {
    const { seed: amis, expired, stay } = faultScenario(300, 205, 45);
    const moto = await startMoto({ amis });
    try {
        const before = (await motoState(moto)).images;
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
        while ((moto.proxy.stats.calls["ec2:DeregisterImage"] ?? 0) < killAfter && child.exitCode === null)
            await new Promise((r) => setTimeout(r, 5));
        child.kill("SIGKILL");
        await exited;
        const cut = await judge(moto, expired, stay, before);
        await runCleanup({
            clients: motoClients(moto.endpoint, 3000),
            settings: settingsWith({ validHours: 24, protectInUse: false }),
        });
        const next = await judge(moto, expired, stay, before);
        return { cut, next };
    } finally {
        await moto.stop();
    }
}

export async function faultsSection(seeds = 3): Promise<string> {
    const plans: [string, (call: Call) => number, FaultKind[]][] = [
        ["10% of every call, mixed", () => 0.1, FAULT_KINDS],
        ["30% of every call, mixed", () => 0.3, FAULT_KINDS],
        ["DescribeImages throttled 60%", (c) => (c.action === "DescribeImages" ? 0.6 : 0), ["throttle"]],
    ];
    const lines = [
        "### Faults: 300 AMIs in moto, 205 to delete (45 expired but kept, 50 young)",
        "",
        "Mixed faults are 500, 503, throttling, a reset connection, a 5 s stall (past a 3 s request deadline) and a lost answer, in equal shares. Two runs each; moto ignores DeleteAssociatedSnapshots.",
        "",
        "| faults | seed | faults injected | wrongly deleted | expired left after run 1 / 2 | orphaned snapshots after run 1 / 2 | AMIs reported failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ];
    for (const [what, share, kinds] of plans) {
        for (let seed = 1; seed <= seeds; seed++) {
            const o = await faultedRuns(share, kinds, seed * 7919);
            lines.push(
                `| ${what} | ${seed} | ${o.faults} | ${o.wronglyDeleted} | ${o.leftAfter.join(" / ")} | ${o.orphansAfter.join(" / ")} | ${o.failedReported} |`,
            );
        }
    }
    lines.push(
        "",
        "| SIGKILL of `npm run cleanup` after N DeregisterImage calls | orphans left by the cut | wrongly deleted | expired left after the next run | orphans after the next run |",
        "|---:|---:|---:|---:|---:|",
    );
    for (const n of [1, 40, 120, 200]) {
        const { cut, next } = await killedRun(n);
        lines.push(`| ${n} | ${cut.orphans} | ${next.wrong} | ${next.left} | ${next.orphans} |`);
    }
    return lines.join("\n");
}

// `npm run bench`: the deployed definition against the original design on the same AMIs in moto, interleaved; a
// whole multi-page run against EC2's token buckets with the pacer (bench/pages.ts); the time to the first API
// call; emptying a 20,000-entry ECR repository. `--only` picks sections. Prints Markdown tables; not a test.
import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DEFAULT_BACKOFF } from "../functions/core/ami/pool";
import { settingsWith } from "../functions/core/ami/settings";
import { emptyRepository } from "../functions/core/ecr/empty";
import { type RunStats, runExecutions } from "../runner/engine";
import {
    findMotoPython,
    MOTO_ACCOUNT_ID,
    MOTO_REGION,
    motoClients,
    motoCredentials,
    type SeedAmi,
    startMoto,
} from "../runner/moto";
import { runCleanup } from "../runner/run";
import { SFN_LIMITS } from "../runner/stats";
import { ecrModel } from "./ecrModel";
import { faultsSection } from "./faults";
import { buildOriginalDefinition, originalHandlers } from "./original";
import { MODES, pagesSection } from "./pages";
import { deleteAssociatedSnapshotsLikeEc2, EC2_BUCKETS, throttleEc2 } from "./throttle";

const VALID_HOURS = 24;

interface Measured {
    design: string;
    amis: number;
    deleted: number;
    remainingImages: number;
    remainingSnapshots: number;
    /** AMIs in the account, young ones included: what one listing reads. */
    accountImages: number;
    seconds: number;
    stats: RunStats;
}

/** `n` self-owned AMIs 100 hours old, then `young` 1 hour old: each gets one EBS snapshot in moto. */
function seed(n: number, young = 0): SeedAmi[] {
    const old = new Date(Date.now() - 100 * 3_600_000).toISOString();
    const recent = new Date(Date.now() - 3_600_000).toISOString();
    return Array.from({ length: n + young }, (_, i) => ({
        ami_id: `ami-${i.toString(16).padStart(17, "0")}`,
        name: `bench-${i}`,
        owner_id: MOTO_ACCOUNT_ID,
        creation_date: i < n ? old : recent,
        state: "available",
    }));
}

const client = (endpoint: string, maxAttempts?: number) =>
    new EC2Client({
        endpoint,
        region: MOTO_REGION,
        credentials: motoCredentials,
        ...(maxAttempts ? { maxAttempts } : {}),
    });

async function leftovers(ec2: EC2Client): Promise<{ images: number; snapshots: number }> {
    const images = (await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [];
    const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? [];
    return { images: images.length, snapshots: snapshots.length };
}

async function measure(
    design: "image-janitor" | "original",
    amis: SeedAmi[],
    expired = amis.length,
    keepShared = true,
): Promise<Measured> {
    const moto = await startMoto({ amis });
    try {
        const ec2 = client(moto.endpoint);
        const started = performance.now();
        let deleted: number;
        let stats: RunStats;
        if (design === "image-janitor") {
            const s = await runCleanup({
                clients: { ...motoClients(moto.endpoint), ec2 },
                settings: settingsWith({ validHours: VALID_HOURS, protectInUse: false, keepShared }),
            });
            if (s.failed.length > 0) throw new Error(`${s.failed.length} AMIs failed: ${s.failed[0].error}`);
            deleted = s.deleted.length;
            stats = s.stats;
        } else {
            const lambdas = originalHandlers(ec2, VALID_HOURS, new Date());
            const r = await runExecutions({ definition: buildOriginalDefinition(VALID_HOURS), lambdas, ec2 });
            stats = r.stats;
            deleted = stats.ec2Calls.DeregisterImage ?? 0;
        }
        const seconds = (performance.now() - started) / 1000;
        const left = await leftovers(ec2);
        return {
            design,
            amis: expired,
            accountImages: amis.length,
            deleted,
            remainingImages: left.images,
            remainingSnapshots: left.snapshots,
            seconds,
            stats,
        };
    } finally {
        await moto.stop();
    }
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });

function designTable(ours: Measured, original: Measured | undefined): string {
    const n = ours.amis;
    // Floors on AWS: one listing, one call per AMI and per snapshot left (moto ignores DeleteAssociatedSnapshots).
    const floor: Record<string, number> = {
        DescribeImages: Math.ceil(ours.accountImages / 1000),
        DeregisterImage: n,
        DeleteSnapshot: n,
    };
    const actions = [
        ...new Set([
            ...Object.keys(floor),
            ...Object.keys(ours.stats.ec2Calls),
            ...Object.keys(original?.stats.ec2Calls ?? {}),
        ]),
    ];
    const total = (m: Measured) => Object.values(m.stats.ec2Calls).reduce((a, b) => a + b, 0);
    const floorTotal = Object.values(floor).reduce((a, b) => a + b, 0);
    const rows: [string, (m: Measured) => number, number?][] = [
        ["AMIs deleted", (m) => m.deleted],
        ["AMIs left in moto", (m) => m.remainingImages],
        ["snapshots left in moto", (m) => m.remainingSnapshots],
        ["wall time (s)", (m) => m.seconds],
        ["AMIs/s", (m) => m.deleted / m.seconds],
        ...actions.map((a): [string, (m: Measured) => number, number?] => [
            `EC2 ${a} calls`,
            (m) => m.stats.ec2Calls[a] ?? 0,
            floor[a] ?? 0,
        ]),
        ["EC2 calls per AMI", (m) => total(m) / n, floorTotal / n],
        ["Lambda invocations per 1,000 AMIs", (m) => (m.stats.lambdaInvocations * 1000) / n, 50],
        ["state transitions per 1,000 AMIs", (m) => (m.stats.stateTransitions * 1000) / n, 300],
        ["executions", (m) => m.stats.executions],
        ["max history events per execution", (m) => m.stats.historyEvents, SFN_LIMITS.historyEvents],
        ["max state payload (bytes)", (m) => m.stats.maxStatePayloadBytes, SFN_LIMITS.payloadBytes],
    ];
    const lines = [
        `### ${fmt(n)} expired AMIs`,
        "",
        "| | image-janitor | original design | original / image-janitor | floor or limit |",
        "|---|---:|---:|---:|---:|",
    ];
    for (const [label, get, bound] of rows) {
        const a = get(ours);
        const b = original ? get(original) : undefined;
        const digits = label.includes("per") || label.includes("/s") || label.includes("(s)") ? 2 : 0;
        const ratio = b !== undefined && a > 0 ? `${fmt(b / a, 2)}×` : "";
        lines.push(
            `| ${label} | ${fmt(a, digits)} | ${b === undefined ? "not run" : fmt(b, digits)} | ${ratio} | ${bound === undefined ? "" : fmt(bound, 3)} |`,
        );
    }
    if (original) {
        const over = [
            original.stats.maxStatePayloadBytes > SFN_LIMITS.payloadBytes
                ? "its payload exceeds 256 KiB"
                : "",
            original.stats.historyEvents > SFN_LIMITS.historyEvents
                ? "its history exceeds 25,000 events"
                : "",
        ].filter(Boolean);
        if (over.length > 0)
            lines.push("", `The original design would fail in AWS at this size: ${over.join(" and ")}.`);
    }
    return lines.join("\n");
}

/**
 * Sustained rate of one action in simulated seconds from its first call (the bucket is full then) to its last,
 * leaving out the burst the full bucket allows.
 */
function sustained(times: number[], burst: number) {
    const sorted = [...times].sort((a, b) => a - b);
    const first = sorted[0] ?? 0;
    const last = sorted[sorted.length - 1] ?? 0;
    const rate = sorted.length > burst && last > first ? (sorted.length - burst) / (last - first) : 0;
    return { count: sorted.length, first, seconds: last, rate };
}

async function throttleSimulation(
    amis: number,
    targetSeconds: number,
    deleteAssociated: boolean,
    maxConcurrency: number,
    keepShared = true,
): Promise<string> {
    const refill = EC2_BUCKETS.DeregisterImage.refillPerSecond;
    const burst = EC2_BUCKETS.DeregisterImage.burst;
    // Scaled so that the simulated (amis - burst) / refill seconds pass in about targetSeconds of wall time.
    const scale = (amis - burst) / refill / targetSeconds;
    const moto = await startMoto({ amis: seed(amis) });
    try {
        // SDK retries off: its waits are wall-clock. The batch pool's backoff runs on the simulated clock.
        const ec2 = client(moto.endpoint, 1);
        const throttle = throttleEc2(ec2, scale);
        const emulation = deleteAssociated
            ? deleteAssociatedSnapshotsLikeEc2(ec2, client(moto.endpoint))
            : () => {};
        const started = performance.now();
        const s = await runCleanup({
            clients: { ...motoClients(moto.endpoint), ec2 },
            settings: settingsWith({
                validHours: VALID_HOURS,
                protectInUse: false,
                maxConcurrency,
                keepShared,
            }),
            backoff: { baseMs: DEFAULT_BACKOFF.baseMs / scale, capMs: DEFAULT_BACKOFF.capMs / scale },
            retryIntervalMs: 1000 / scale,
        });
        const wall = (performance.now() - started) / 1000;
        throttle.remove();
        emulation();
        const left = await leftovers(client(moto.endpoint));
        const dereg = sustained(throttle.granted.DeregisterImage ?? [], burst);
        const snaps = sustained(throttle.granted.DeleteSnapshot ?? [], EC2_BUCKETS.DeleteSnapshot.burst);
        const lost = amis - s.deleted.length;
        return [
            `### Throttle simulation, ${deleteAssociated ? "DeregisterImage deleting the snapshots (DeleteAssociatedSnapshots, as EC2 does)" : "fallback: every snapshot deleted by DeleteSnapshot (moto as it is)"}`,
            "",
            `${fmt(amis)} AMIs, ${maxConcurrency} batches at once; EC2's buckets (burst ${burst}, refill ${refill}/s) on a clock ${fmt(scale, 1)}× faster than the wall clock.`,
            "",
            "| | DeregisterImage | DeleteSnapshot |",
            "|---|---:|---:|",
            `| calls let through | ${fmt(dereg.count)} | ${fmt(snaps.count)} |`,
            `| calls refused (RequestLimitExceeded) | ${fmt(throttle.refused.DeregisterImage ?? 0)} | ${fmt(throttle.refused.DeleteSnapshot ?? 0)} |`,
            `| simulated seconds to the first call | ${fmt(dereg.first, 1)} | ${fmt(snaps.first, 1)} |`,
            `| simulated seconds to the last call | ${fmt(dereg.seconds, 1)} | ${fmt(snaps.seconds, 1)} |`,
            `| sustained rate after the burst (/s) | ${fmt(dereg.rate, 2)} | ${fmt(snaps.rate, 2)} |`,
            `| refill wasted while the bucket was full (tokens) | ${fmt(throttle.buckets.DeregisterImage.wasted)} | ${fmt(throttle.buckets.DeleteSnapshot.wasted)} |`,
            `| % of refill rate | ${fmt((dereg.rate / refill) * 100, 1)}% | ${fmt((snaps.rate / EC2_BUCKETS.DeleteSnapshot.refillPerSecond) * 100, 1)}% |`,
            "",
            `keepShared ${keepShared ? "on" : "off"}: DescribeImageAttribute ${fmt(((throttle.granted.DescribeImageAttribute ?? []).length * 1000) / amis, 1)} calls per 1,000 AMIs let through, ${fmt(throttle.refused.DescribeImageAttribute ?? 0)} refused; DescribeImages ${fmt(((throttle.granted.DescribeImages ?? []).length * 1000) / amis, 1)} per 1,000 AMIs.`,
            "",
            `Wall time ${fmt(wall, 1)} s. AMIs deleted ${fmt(s.deleted.length)}, failed ${s.failed.length}, lost ${lost}; left in moto: ${left.images} AMIs, ${left.snapshots} snapshots.`,
        ].join("\n");
    } finally {
        await moto.stop();
    }
}

const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (xs: number[], digits = 2) =>
    `${fmt(Math.min(...xs), digits)} / ${fmt(median(xs), digits)} / ${fmt(Math.max(...xs), digits)}`;

/**
 * Both designs on the same AMIs, `rounds` times, interleaved (A B, B A, A B ...) so a drift in the machine's
 * speed falls on both; each run gets a fresh moto. The ratio is taken pair by pair.
 */
async function roundsSection(
    n: number,
    young: number,
    rounds: number,
    original: boolean,
    keepShared: boolean,
): Promise<string> {
    const amis = seed(n, young);
    const ours: Measured[] = [];
    const theirs: Measured[] = [];
    for (let r = 0; r < rounds; r++) {
        const order =
            r % 2 === 0 ? (["image-janitor", "original"] as const) : (["original", "image-janitor"] as const);
        for (const design of order) {
            if (design === "original" && !original) continue;
            const m = await measure(design, amis, n, keepShared);
            (design === "original" ? theirs : ours).push(m);
            process.stderr.write(`${design} round ${r + 1}: ${fmt(m.seconds, 1)} s\n`);
        }
    }
    const bySeconds = (ms: Measured[]) => [...ms].sort((a, b) => a.seconds - b.seconds);
    const mid = (ms: Measured[]) => bySeconds(ms)[Math.floor(ms.length / 2)];
    const lines = [designTable(mid(ours), theirs.length ? mid(theirs) : undefined)];
    lines.push(
        "",
        `Wall time over ${rounds} interleaved rounds (${fmt(young)} young AMIs beside them, never touched; keepShared ${keepShared ? "on, the default" : "off"}), min / median / max:`,
        "",
        "| | seconds | image-janitor / original, pair by pair |",
        "|---|---:|---:|",
        `| image-janitor | ${spread(
            ours.map((m) => m.seconds),
            1,
        )} | |`,
    );
    if (theirs.length) {
        const ratios = ours.map((m, i) => m.seconds / theirs[i].seconds);
        lines.push(
            `| original design | ${spread(
                theirs.map((m) => m.seconds),
                1,
            )} | ${spread(ratios)} |`,
            "",
            `Target: at most 0.9 (median). Measured: ${fmt(median(ratios), 2)}.`,
        );
    }
    const untouched = ours.every((m) => m.remainingImages === young && m.remainingSnapshots === young);
    lines.push(
        "",
        `Young AMIs and their snapshots left untouched in every image-janitor run: ${untouched ? "yes" : "NO"}.`,
    );
    return lines.join("\n");
}

/**
 * From `npm run cleanup`'s start to its first request reaching the endpoint, against a local server that
 * records it and answers every request with a 400 (the run then fails, which does not matter here).
 */
async function firstCallSeconds(command: string[]): Promise<number> {
    const { createServer } = await import("node:http");
    const { spawn } = await import("node:child_process");
    let first = 0;
    const server = createServer((req, res) => {
        if (!first) first = performance.now();
        req.resume();
        res.writeHead(400, { "content-type": "text/xml" });
        res.end(
            "<Response><Errors><Error><Code>AuthFailure</Code><Message>bench</Message></Error></Errors></Response>",
        );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const started = performance.now();
    const child = spawn(command[0], command.slice(1), {
        cwd: `${__dirname}/..`,
        stdio: "ignore",
        env: {
            ...process.env,
            AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
            AWS_ACCESS_KEY_ID: "bench",
            AWS_SECRET_ACCESS_KEY: "bench",
            AWS_REGION: MOTO_REGION,
        },
    });
    await new Promise((r) => child.on("exit", r));
    server.close();
    if (!first) throw new Error(`${command.join(" ")} made no request`);
    return (first - started) / 1000;
}

async function firstCallSection(rounds: number): Promise<string> {
    const args = ["cleanup", "--valid-hours", "24", "--dry-run", "--json"];
    const built = ["node", "scripts/run-built.js", ...args];
    const tsNode = ["node", "-r", "ts-node/register/transpile-only", "runner/cli.ts", ...args.slice(1)];
    await firstCallSeconds(built); // builds the bundle if an input changed
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
        a.push(await firstCallSeconds(built));
        b.push(await firstCallSeconds(tsNode));
    }
    return [
        "### Time to the first API call",
        "",
        `From the process's start to its first request reaching the endpoint (a local server), ${rounds} interleaved rounds, min / median / max seconds:`,
        "",
        "| | seconds |",
        "|---|---:|",
        `| \`npm run cleanup\`'s script (\`node scripts/run-built.js cleanup\`, built JavaScript) | ${spread(a)} |`,
        `| the same command through ts-node (how it started before) | ${spread(b)} |`,
        "",
        `Target: at most 1 s. Measured: ${fmt(median(a), 2)} s (median). npm itself adds about 0.1–0.15 s before the script starts.`,
    ].join("\n");
}

async function ecrSection(): Promise<string> {
    // 8,000 images with two tags and 4,000 untagged: 20,000 ListImages entries, 12,000 digests.
    const model = ecrModel("bench", 12_000, (n) => (n % 3 === 2 ? 0 : 2));
    try {
        const started = performance.now();
        const result = await emptyRepository(model.ecr, { repositoryName: "bench" });
        const seconds = (performance.now() - started) / 1000;
        const listFloor = Math.ceil(model.entries / 1000);
        const deleteFloor = Math.ceil(model.digests / 100);
        return [
            `### ECR: emptying ${fmt(model.entries)} image entries (${fmt(model.digests)} digests)`,
            "",
            "| | calls | floor |",
            "|---|---:|---:|",
            `| ListImages | ${model.calls.ListImages ?? 0} | ${listFloor} (ceil(entries / 1000)) |`,
            `| BatchDeleteImage | ${model.calls.BatchDeleteImage ?? 0} | ${deleteFloor} (ceil(digests / 100)) |`,
            "",
            `Deleted ${fmt(result.deleted)} digests, ${model.remaining()} entries left, ${fmt(seconds, 2)} s. The one ListImages call over the floor is the final listing that confirms the repository is empty.`,
        ].join("\n");
    } finally {
        model.restore();
    }
}

function machine(): string {
    const motoVersion = execFileSync(findMotoPython(), ["-c", "import moto; print(moto.__version__)"], {
        encoding: "utf8",
    }).trim();
    const cpu = cpus();
    return `Machine: ${cpu.length} × ${cpu[0]?.model ?? "unknown CPU"}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM, Node ${process.version}, moto ${motoVersion}.`;
}

/** Sections by name; `--only` picks some (comma-separated), the default runs the first four. */
const SECTIONS = ["moto", "pages", "first-call", "ecr", "moto-throttle", "faults"] as const;
const DEFAULT_SECTIONS = SECTIONS.slice(0, 4);

async function main(argv: string[]) {
    const { values } = parseArgs({
        args: argv,
        options: {
            only: { type: "string" },
            full: { type: "boolean", default: false },
            sizes: { type: "string" },
            young: { type: "string", default: "200" },
            rounds: { type: "string", default: "3" },
            "no-original": { type: "boolean", default: false },
            "no-keep-shared": { type: "boolean", default: false },
            "pages-amis": { type: "string", default: "5000" },
            "pages-scale": { type: "string", default: "50" },
            "pages-concurrency": { type: "string", default: "2" },
            "pages-modes": { type: "string", default: MODES.join(",") },
            "throttle-amis": { type: "string", default: "1000" },
            "throttle-seconds": { type: "string", default: "60" },
            "throttle-concurrency": { type: "string", default: "2" },
            "no-throttle-fallback": { type: "boolean", default: false },
        },
    });
    /** A whole number at least `min`, or an error naming the flag and the value. */
    const wholeNumber = (flag: string, raw: unknown, min = 1): number => {
        const n = Number(raw);
        if (typeof raw !== "string" || raw.trim() === "" || !Number.isInteger(n) || n < min)
            throw new Error(`--${flag} must be a whole number ${min} or more (got ${JSON.stringify(raw)})`);
        return n;
    };
    const count = (flag: keyof typeof values, min = 1) => wholeNumber(flag, values[flag], min);
    /** A comma-separated list of names from `allowed`, or an error naming the flag and the value. */
    const namesOf = <T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] =>
        raw.split(",").map((name) => {
            if (!(allowed as readonly string[]).includes(name))
                throw new Error(`--${flag}: ${JSON.stringify(name)} is not one of ${allowed.join(", ")}`);
            return name as T;
        });
    const only = values.only ? namesOf("only", values.only, SECTIONS) : [...DEFAULT_SECTIONS];
    const run = (name: (typeof SECTIONS)[number]) => only.includes(name);
    const sizes = values.sizes
        ? values.sizes.split(",").map((v) => wholeNumber("sizes", v))
        : [3000, ...(values.full ? [10_000] : [])];
    const rounds = count("rounds");
    const out = (s: string) => process.stdout.write(`${s}\n\n`);
    out(`## image-janitor benchmark, ${new Date().toISOString()}`);
    out(machine());
    if (run("moto"))
        for (const n of sizes)
            out(
                await roundsSection(
                    n,
                    count("young", 0),
                    rounds,
                    !values["no-original"],
                    !values["no-keep-shared"],
                ),
            );
    if (run("pages"))
        out(
            await pagesSection({
                amis: count("pages-amis"),
                youngAmis: count("young", 0),
                scale: count("pages-scale"),
                maxConcurrency: count("pages-concurrency"),
                modes: namesOf("pages-modes", values["pages-modes"], MODES),
            }),
        );
    if (run("first-call")) out(await firstCallSection(rounds * 2));
    if (run("ecr")) out(await ecrSection());
    if (run("moto-throttle"))
        for (const deleteAssociated of values["no-throttle-fallback"] ? [true] : [true, false]) {
            const amis = count("throttle-amis");
            const seconds = count("throttle-seconds");
            const concurrency = count("throttle-concurrency");
            for (const keepShared of [true, false])
                out(await throttleSimulation(amis, seconds, deleteAssociated, concurrency, keepShared));
        }
    if (run("faults")) out(await faultsSection());
}

main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exitCode = 1;
});

// A whole cleanup run of thousands of expired AMIs, page after page over chained executions, against EC2's token
// buckets on a scaled clock: the pacer as shipped in front of every SDK attempt (one shared by every batch, as the
// local runner has it, or one per Lambda container, as deployed), the SDK's retries as deployed, and a
// DescribeImages latency model. EC2's buckets sit closest to the wire, inside the SDK's retry loop and after the
// pacer, so every attempt is a real call against the bucket. Prints a Markdown section; not a test.
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import * as ec2lib from "@aws-sdk/client-ec2";
import { EC2Client, type Image, type ServiceInputTypes, type ServiceOutputTypes } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { FinalizeRequestMiddleware } from "@smithy/types";
import { mockClient } from "aws-sdk-client-mock";
import { BATCH_SIZE } from "../functions/core/ami/batches";
import { DEFAULT_BACKOFF } from "../functions/core/ami/pool";
import { settingsWith } from "../functions/core/ami/settings";
import { DELETING_TAG } from "../functions/core/ami/tags";
import { patientRetryStrategy, RETRY_POLICY } from "../functions/core/shared/clients";
import {
    createPacer,
    EC2_RATES,
    PACER_MIDDLEWARE,
    type Pacer,
    paced,
    UTILIZATION,
} from "../functions/core/shared/pacing";
import { sleep } from "../functions/core/shared/time";
import { runCleanup } from "../runner/run";
import { installFakeEc2, oldImages } from "../tests/fakeEc2";
import { type BucketSpec, EC2_BUCKETS, TokenBucket } from "./throttle";

/** What one DescribeImages call takes, in simulated time: a fixed part, and a part per image it returns. */
export const DESCRIBE_IMAGES_LATENCY = { baseMs: 300, perThousandImagesMs: 1_000 };

/**
 * EC2's buckets ("Request throttling for the Amazon EC2 API"), with the two mutating actions the throttle
 * simulation of bench/throttle.ts leaves out: CreateTags is named in AWS's table, DisableImage falls in its
 * "mutating actions".
 */
const BUCKETS: Record<string, BucketSpec> = {
    ...EC2_BUCKETS,
    CreateTags: { burst: 100, refillPerSecond: 10 },
    DisableImage: { burst: 50, refillPerSecond: 5 },
};
const MUTATING = ["DeregisterImage", "DeleteSnapshot", "CreateTags", "DisableImage"] as const;
const DEREGISTER_RATE = BUCKETS.DeregisterImage.refillPerSecond;

/** The targets the section reports against. */
const TARGET_RATE_SHARE = 0.95;
const TARGET_REFUSED_SHARE = 0.05;

/** The handlers' clock starts here: the expired AMIs were made in 2020, the young ones an hour before. */
const SIM_START = Date.parse("2026-03-01T00:00:00.000Z");
const VALID_HOURS = 24;

/**
 * How the batches meet EC2: the local runner's one client and pacer shared by every batch; one client and pacer per
 * Lambda container, as deployed; one shared client with no pacer.
 */
export const MODES = ["shared", "containers", "off"] as const;
export type Mode = (typeof MODES)[number];

const MODE_LABEL: Record<Mode, string> = {
    shared: "runner: one shared pacer",
    containers: "deployed: one pacer per Lambda container",
    off: "pacer off",
};

/** One invocation of a container, in simulated ms. */
interface Invocation {
    start: number;
    /** When its last EC2 call came back (its start if it made none). */
    end: number;
    /** An AMI it deregistered, which names its page. */
    imageId?: string;
}

/** A page as the deregister function's containers saw it, in simulated seconds from the first API call. */
interface PageTiming {
    amis: number;
    batches: number;
    /** From the page's first deregister invocation starting to its last one's end. */
    span: number;
    /** Each deregister container's time in the span with no batch of the page. */
    idle: number[];
    /** From the first container's last batch of the page ending to the page's end: the others work alone. */
    alone: number;
    /** From the previous page's end (the first API call, for the first page) to this page's start. */
    gapBefore: number;
}

interface Measured {
    mode: Mode;
    scale: number;
    expired: number;
    young: number;
    deleted: number;
    failed: number;
    lost: number;
    youngUntouched: number;
    snapshotsLeft: number;
    pages: number;
    /** Simulated seconds from the first API call. */
    firstDeregister: number;
    lastDeregister: number;
    granted: Record<string, number>;
    refused: Record<string, number>;
    listingCalls: number;
    recheckCalls: number;
    pacerWaitSeconds?: number;
    /** Deployed only: the deregister containers page by page. */
    pageTimings?: PageTiming[];
    wallSeconds: number;
}

/** `expired + young` AMIs with one snapshot each, in id order; the young ones spread evenly among them. */
function account(expired: number, young: number): { images: Image[]; youngIds: Set<string> } {
    const images = oldImages(expired + young);
    const youngIds = new Set<string>();
    const created = new Date(SIM_START - 3_600_000).toISOString();
    for (let k = 0; k < young; k++) {
        const image = images[Math.floor(((k + 0.5) * images.length) / young)];
        image.CreationDate = created;
        youngIds.add(image.ImageId ?? "");
    }
    return { images, youngIds };
}

const refusal = () =>
    Object.assign(new Error("Request limit exceeded."), {
        name: "RequestLimitExceeded",
        $fault: "client",
        $metadata: { httpStatusCode: 503 },
    });

/**
 * A container's pacer, created (empty) at the container's first invocation, as a Lambda module's is at its cold
 * start; `onInvocation` hears every invocation begin (each calls divideAmong once, first thing).
 */
function coldStartPacer(
    make: () => Pacer,
    onInvocation: () => void,
): { pacer: Pacer; waitedMs: () => number } {
    let made: Pacer | undefined;
    const get = () => {
        made ??= make();
        return made;
    };
    const pacer: Pacer = {
        get stats() {
            return get().stats;
        },
        take: (action) => get().take(action),
        refused: (action) => get().refused(action),
        divideAmong(n) {
            onInvocation();
            get().divideAmong(n);
        },
    };
    return { pacer, waitedMs: () => made?.stats.waitedMs ?? 0 };
}

/**
 * The deregister containers' invocations, page by page: `pageEnds` holds each page's end as a count of AMIs
 * listed so far, `rank` each expired AMI's place in id order (the pages' order).
 */
function pageTimings(
    containers: Invocation[][],
    pageEnds: number[],
    rank: Map<string, number>,
): PageTiming[] {
    const pageOf = (inv: Invocation) => {
        const r = rank.get(inv.imageId ?? "");
        return r === undefined ? -1 : pageEnds.findIndex((e) => r < e);
    };
    const out: PageTiming[] = [];
    let previousEnd = 0;
    for (let p = 0; p < pageEnds.length; p++) {
        const mine = containers.map((invs) => invs.filter((inv) => pageOf(inv) === p));
        const all = mine.flat();
        if (all.length === 0) continue;
        const start = Math.min(...all.map((i) => i.start));
        const end = Math.max(...all.map((i) => i.end));
        const busy = mine.map((invs) => invs.reduce((n, i) => n + i.end - i.start, 0));
        const lastEnds = mine.map((invs) => (invs.length ? Math.max(...invs.map((i) => i.end)) : start));
        out.push({
            amis: pageEnds[p] - (p > 0 ? pageEnds[p - 1] : 0),
            batches: all.length,
            span: (end - start) / 1000,
            idle: busy.map((b) => (end - start - b) / 1000),
            alone: (end - Math.min(...lastEnds)) / 1000,
            gapBefore: (start - previousEnd) / 1000,
        });
        previousEnd = end;
    }
    return out;
}

async function simulate(opts: {
    expired: number;
    young: number;
    scale: number;
    maxConcurrency: number;
    mode: Mode;
}): Promise<Measured> {
    const { scale, mode } = opts;
    const { images, youngIds } = account(opts.expired, opts.young);

    // The in-process EC2: aws-sdk-client-mock replaces `send`, so it sits behind every client the run uses.
    const inner = new EC2Client({});
    const fake = installFakeEc2(mockClient(inner), images, new Date(SIM_START));
    const region = "us-east-1";
    const credentials = { accessKeyId: "bench", secretAccessKey: "bench" };
    // protectInUse is off: nothing asks Auto Scaling or SSM, and an unanswered mock would fail the run if it did.
    const autoScaling = new AutoScalingClient({ region, credentials });
    const ssm = new SSMClient({ region, credentials });
    mockClient(autoScaling);
    mockClient(ssm);

    // Simulated time runs `scale` times faster than the wall clock, from the run's first EC2 call: the runner's
    // start-up (loading modules, building the definition) is CPU time that must not let the pacer save tokens.
    let t0: number | undefined;
    const simMs = () => (t0 === undefined ? 0 : (performance.now() - t0) * scale);
    const simSleep = (ms: number) => sleep(ms / scale);
    const newPacer = () => createPacer({ now: simMs, sleep: simSleep });

    // EC2's buckets, per account and region: every client of the run, every container's included, takes from them.
    const buckets = Object.fromEntries(
        Object.entries(BUCKETS).map(([a, spec]) => [a, new TokenBucket(spec, () => simMs() / 1000)]),
    );
    const granted: Record<string, number> = {};
    const refused: Record<string, number> = {};
    const deregisteredAt: number[] = [];
    let firstCall: number | undefined;
    let listingCalls = 0;
    let recheckCalls = 0;
    const commands = ec2lib as unknown as Record<
        string,
        new (
            input: unknown,
        ) => ec2lib.DescribeImagesCommand
    >;
    const describeLatency = (returned: number) =>
        simSleep(
            DESCRIBE_IMAGES_LATENCY.baseMs + (DESCRIBE_IMAGES_LATENCY.perThousandImagesMs * returned) / 1000,
        );

    // EC2 at the wire: its bucket for the action, then the fake's answer. It does not call `next`. `seen` hears
    // each call come back (refused or answered), with the AMI a DeregisterImage was for.
    const wire =
        (
            seen?: (action: string, imageId?: string) => void,
        ): FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =>
        (_next, context) =>
        async (args) => {
            const command = String(context.commandName ?? "");
            const action = command.replace(/Command$/, "");
            const input = args.input as { ImageIds?: string[]; ImageId?: string };
            firstCall ??= simMs();
            try {
                if (buckets[action] && !buckets[action].take()) {
                    refused[action] = (refused[action] ?? 0) + 1;
                    throw refusal();
                }
                granted[action] = (granted[action] ?? 0) + 1;
                if (action === "DescribeImages") {
                    if (input.ImageIds) recheckCalls += 1;
                    else listingCalls += 1;
                }
                let output: { Images?: unknown[] };
                try {
                    output = (await inner.send(new commands[command](args.input))) as { Images?: unknown[] };
                } catch (err) {
                    if (action === "DescribeImages") await describeLatency(0);
                    throw err;
                }
                if (action === "DescribeImages") await describeLatency(output.Images?.length ?? 0);
                if (action === "DeregisterImage") deregisteredAt.push(simMs());
                return { output: { $metadata: {}, ...output } as ServiceOutputTypes, response: {} };
            } finally {
                seen?.(action, action === "DeregisterImage" ? input.ImageId : undefined);
            }
        };

    /** A client as each function builds its own: the SDK's retries as deployed (scaled), the pacer if any, EC2. */
    const clients: EC2Client[] = [];
    const client = (pacer?: Pacer, seen?: (action: string, imageId?: string) => void) => {
        const c = new EC2Client({
            region,
            credentials,
            maxAttempts: RETRY_POLICY.maxAttempts,
            retryStrategy: patientRetryStrategy({
                ...RETRY_POLICY,
                baseMs: RETRY_POLICY.baseMs / scale,
                throttlingBaseMs: RETRY_POLICY.throttlingBaseMs / scale,
                capMs: RETRY_POLICY.capMs / scale,
            }),
        });
        if (pacer) paced(c, pacer);
        c.middlewareStack.addRelativeTo(wire(seen), {
            relation: "after",
            toMiddleware: pacer ? PACER_MIDDLEWARE : "retryMiddleware",
            name: "image-janitor-bench-wire",
        });
        c.middlewareStack.add(
            (next) => (args) => {
                t0 ??= performance.now();
                return next(args);
            },
            { step: "initialize", priority: "high", name: "image-janitor-bench-clock" },
        );
        clients.push(c);
        return c;
    };

    // shared: the runner's one pacer, created when the simulated clock starts; containers: the list task's client
    // unpaced (the list function has no pacer), each batch container its own client and pacer.
    const sharedPacer = mode === "shared" ? newPacer() : undefined;
    const ec2 = client(sharedPacer);
    const containerWaits: (() => number)[] = [];
    const invocations: Invocation[][] = [];
    const container =
        mode === "containers"
            ? () => {
                  const mine: Invocation[] = [];
                  invocations.push(mine);
                  const cold = coldStartPacer(newPacer, () => mine.push({ start: simMs(), end: simMs() }));
                  containerWaits.push(cold.waitedMs);
                  const seen = (_action: string, imageId?: string) => {
                      const current = mine[mine.length - 1];
                      if (!current) return;
                      current.end = simMs();
                      current.imageId ??= imageId;
                  };
                  return { ec2: client(cold.pacer, seen), pacer: cold.pacer };
              }
            : undefined;
    // How many AMIs had been listed, each time a batch finished: a new page shows as a new total.
    const pageEnds: number[] = [];

    const wallStart = performance.now();
    const summary = await runCleanup({
        clients: { ec2, autoScaling, ssm },
        settings: settingsWith({
            validHours: VALID_HOURS,
            protectInUse: false,
            maxConcurrency: opts.maxConcurrency,
        }),
        now: () => new Date(SIM_START + simMs()),
        backoff: { baseMs: DEFAULT_BACKOFF.baseMs / scale, capMs: DEFAULT_BACKOFF.capMs / scale },
        retryIntervalMs: 1000 / scale,
        onProgress: (_done, total) => {
            if (total !== pageEnds[pageEnds.length - 1]) pageEnds.push(total);
        },
        ...(container ? { container } : {}),
    });
    const wallSeconds = (performance.now() - wallStart) / 1000;
    for (const c of [...clients, inner, autoScaling, ssm]) c.destroy();

    const deleted = new Set(summary.deleted.map((d) => d.imageId));
    const times = new Map<string, number>();
    for (const id of fake.deregistered) times.set(id, (times.get(id) ?? 0) + 1);
    const expiredIds = images.map((i) => i.ImageId ?? "").filter((id) => !youngIds.has(id));
    const lost = expiredIds.filter((id) => fake.images.has(id) || times.get(id) !== 1 || !deleted.has(id));
    const untouched = [...youngIds].filter((id) => {
        const image = fake.images.get(id);
        return (
            image?.State === "available" &&
            !fake.deregisterAttempts.includes(id) &&
            !(image.Tags ?? []).some((t) => t.Key === DELETING_TAG.Key)
        );
    });
    const snapshotsLeft = expiredIds.filter((id) => fake.snapshots.has(id.replace(/^ami-/, "snap-"))).length;
    const start = firstCall ?? 0;
    deregisteredAt.sort((a, b) => a - b);
    const pacerWaitMs = sharedPacer
        ? sharedPacer.stats.waitedMs
        : mode === "containers"
          ? containerWaits.reduce((n, w) => n + w(), 0)
          : undefined;
    let timings: PageTiming[] | undefined;
    if (mode === "containers") {
        // onContainers makes the deregister function's containers first, then the snapshots function's.
        const deregisterContainers = invocations.slice(0, opts.maxConcurrency);
        const rank = new Map([...expiredIds].sort().map((id, i) => [id, i] as const));
        // Times from the first API call, as the other rows.
        const shifted = deregisterContainers.map((invs) =>
            invs.map((i) => ({ ...i, start: i.start - start, end: i.end - start })),
        );
        timings = pageTimings(shifted, pageEnds, rank);
    }
    return {
        mode,
        scale,
        expired: expiredIds.length,
        young: youngIds.size,
        deleted: deleted.size,
        failed: summary.failed.length,
        lost: lost.length,
        youngUntouched: untouched.length,
        snapshotsLeft,
        pages: summary.stats.executions,
        firstDeregister: ((deregisteredAt[0] ?? start) - start) / 1000,
        lastDeregister: ((deregisteredAt[deregisteredAt.length - 1] ?? start) - start) / 1000,
        granted,
        refused,
        listingCalls,
        recheckCalls,
        ...(pacerWaitMs !== undefined ? { pacerWaitSeconds: pacerWaitMs / 1000 } : {}),
        ...(timings ? { pageTimings: timings } : {}),
        wallSeconds,
    };
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });
const pct = (part: number, whole: number) => (whole > 0 ? `${fmt((part / whole) * 100, 1)}%` : "n/a");

function table(runs: Measured[]): string {
    const images = runs[0].expired + runs[0].young;
    const floor = Math.ceil(images / 1000);
    const bound = 2 * floor + Math.ceil(runs[0].expired / BATCH_SIZE);
    const rate = (m: Measured) => (m.lastDeregister > 0 ? m.deleted / m.lastDeregister : 0);
    const mutating = (of: Record<string, number>) => MUTATING.reduce((n, a) => n + (of[a] ?? 0), 0);
    const allMutating = (m: Measured) => mutating(m.granted) + mutating(m.refused);
    const rows: [string, (m: Measured) => string, string][] = [
        ["AMIs expired", (m) => fmt(m.expired), ""],
        ["AMIs deleted", (m) => fmt(m.deleted), "all"],
        ["AMIs lost (not deleted exactly once) / failed", (m) => `${m.lost} / ${m.failed}`, "0 / 0"],
        ["snapshots of expired AMIs left", (m) => fmt(m.snapshotsLeft), "0"],
        ["young AMIs untouched", (m) => `${fmt(m.youngUntouched)} of ${fmt(m.young)}`, "all"],
        ["pages (executions)", (m) => fmt(m.pages), ""],
        ["simulated s, first API call to first DeregisterImage", (m) => fmt(m.firstDeregister, 1), ""],
        ["simulated s, first API call to last DeregisterImage", (m) => fmt(m.lastDeregister, 1), ""],
        [
            "end-to-end rate (AMIs/s), % of DeregisterImage's 5/s",
            (m) => `${fmt(rate(m), 2)} (${pct(rate(m), DEREGISTER_RATE)})`,
            `≥ ${fmt(TARGET_RATE_SHARE * DEREGISTER_RATE, 2)} (${pct(TARGET_RATE_SHARE, 1)})`,
        ],
        ...MUTATING.map((a): [string, (m: Measured) => string, string] => [
            `${a}: let through / refused`,
            (m) => `${fmt(m.granted[a] ?? 0)} / ${fmt(m.refused[a] ?? 0)}`,
            "",
        ]),
        [
            "mutating calls refused, % of all mutating calls",
            (m) =>
                `${fmt(mutating(m.refused))} of ${fmt(allMutating(m))} (${pct(mutating(m.refused), allMutating(m))})`,
            `≤ ${pct(TARGET_REFUSED_SHARE, 1)}`,
        ],
        [
            "DescribeImageAttribute: let through / refused",
            (m) =>
                `${fmt(m.granted.DescribeImageAttribute ?? 0)} / ${fmt(m.refused.DescribeImageAttribute ?? 0)}`,
            "",
        ],
        [
            "DescribeImages calls: listing + re-checks (refused)",
            (m) =>
                `${fmt(m.listingCalls + m.recheckCalls)}: ${fmt(m.listingCalls)} + ${fmt(m.recheckCalls)} (${fmt(m.refused.DescribeImages ?? 0)})`,
            `floor ${fmt(floor)}, target ≤ ${fmt(bound)}`,
        ],
        [
            "pacer wait, summed over callers (simulated s)",
            (m) => (m.pacerWaitSeconds === undefined ? "no pacer" : fmt(m.pacerWaitSeconds, 0)),
            "",
        ],
        ["wall time (s)", (m) => fmt(m.wallSeconds, 1), ""],
    ];
    return [
        `| | ${runs.map((m) => MODE_LABEL[m.mode]).join(" | ")} | target |`,
        `|---|${runs.map(() => "---:").join("|")}|---|`,
        ...rows.map(([name, get, target]) => `| ${name} | ${runs.map(get).join(" | ")} | ${target} |`),
    ].join("\n");
}

/** The deployed column's deregister containers, page by page: where a page's time goes. */
function pageTable(m: Measured, maxConcurrency: number): string {
    const pages = m.pageTimings ?? [];
    const lanes = Array.from({ length: maxConcurrency }, (_, i) => i + 1);
    const rate = EC2_RATES.DeregisterImage;
    const share = (rate.perSecond * UTILIZATION) / maxConcurrency;
    return [
        `| page | AMIs | deregister batches | simulated s, first batch's start to last batch's end | AMIs/s in the page | idle s of container ${lanes.join(" / ")} | s the last batch runs without the others | s before the page's first batch |`,
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ...pages.map(
            (p, i) =>
                `| ${i + 1} | ${fmt(p.amis)} | ${p.batches} | ${fmt(p.span, 1)} | ${fmt(p.span > 0 ? p.amis / p.span : 0, 2)} | ${p.idle.map((s) => fmt(s, 1)).join(" / ")} | ${fmt(p.alone, 1)} | ${fmt(p.gapBefore, 1)} |`,
        ),
        "",
        `A deregister container's pacer lets through ${fmt(share, 2)} DeregisterImage a second (${fmt(UTILIZATION * 100)}% of ${rate.perSecond}/s over ${maxConcurrency}); an idle container's pacer saves tokens only up to its share of the burst (${fmt(rate.burst / maxConcurrency)}), which it spends on its next batch.`,
    ].join("\n");
}

/**
 * A whole run of `amis` expired AMIs (and `youngAmis` young ones among them) through the deployed definition,
 * page after page, against EC2's buckets on a clock `scale` times faster than the wall clock: with the runner's one
 * shared pacer, with one pacer per Lambda container as deployed, and without a pacer. Returns a Markdown section.
 */
export async function pagesSection(opts: {
    amis: number;
    youngAmis?: number;
    scale: number;
    maxConcurrency?: number;
    /** The columns to run; all three by default. */
    modes?: readonly Mode[];
}): Promise<string> {
    const { amis, scale } = opts;
    const young = opts.youngAmis ?? 0;
    const maxConcurrency = opts.maxConcurrency ?? 2;
    const runs: Measured[] = [];
    for (const mode of opts.modes ?? MODES)
        runs.push(await simulate({ expired: amis, young, scale, maxConcurrency, mode }));
    const deployed = runs.find((m) => m.mode === "containers");
    const { baseMs, perThousandImagesMs } = DESCRIBE_IMAGES_LATENCY;
    const images = amis + young;
    return [
        `### A whole run, page after page: ${fmt(amis)} expired AMIs against EC2's buckets`,
        "",
        `${fmt(amis)} expired AMIs and ${fmt(young)} young ones (${fmt(images)} in the account, one snapshot each) through the deployed definition in-process, which cuts them into pages of about 2,000 over chained executions, ${maxConcurrency} batches of up to ${BATCH_SIZE} at once (settings: validHours ${VALID_HOURS}, maxConcurrency ${maxConcurrency}, protectInUse off, so no Auto Scaling or SSM lookups; the other settings at their defaults, keepShared included). EC2's buckets (DeregisterImage and DeleteSnapshot 100 burst / 5 a second, CreateTags 100 / 10, DisableImage 50 / 5, DescribeImages and DescribeImageAttribute 100 / 20; full at the start) are the account's: every client of the run takes from the same buckets, and answers from the same in-process EC2. They sit at the wire, inside the SDK's retry loop and after the pacer, so every attempt (retries included) is a call against the bucket; a refusal is RequestLimitExceeded. The SDK retries as deployed (${RETRY_POLICY.maxAttempts} attempts, patient strategy), then the batch pool's backoff and the state's Retry (its interval fixed at 1 s here). DescribeImages takes ${baseMs} ms + ${fmt(perThousandImagesMs)} ms per 1,000 images it returns. Everything runs on a clock ${fmt(scale, 1)}× faster than the wall clock: the pacers' clock, the buckets, the SDK's and the pool's backoff, the state's Retry interval, the latency and the handlers' \`now\` (so the listing's one-hour reuse is judged in simulated time). Step Functions' and Lambda's own latencies (cold starts included) are not modelled. EC2 deletes each AMI's snapshot in the DeregisterImage call (DeleteAssociatedSnapshots), so no DeleteSnapshot is needed.`,
        "",
        "What each column models:",
        "",
        `- **${MODE_LABEL.shared}**: the local runner (\`npm run cleanup\`). Every concurrent batch uses one EC2 client and one pacer with EC2's whole rates (97% of each), created empty when the run makes its first EC2 call, where the simulated clock starts.`,
        `- **${MODE_LABEL.containers}**: the deployed functions. The deregister function and the snapshots function each run on ${maxConcurrency} containers, one batch at a time each, as Lambda runs one invocation per container; a batch waits for a free container. Each container has its own EC2 client (its own SDK retry state) and its own pacer, created empty at the container's first invocation (its cold start), and every invocation gives that pacer 1/${maxConcurrency} of each rate and burst. The list task's client has no pacer, as the list function's has none.`,
        `- **${MODE_LABEL.off}**: the runner's one shared client without a pacer: the SDK's retries, the pool's backoff and the state's Retry alone.`,
        "",
        `CPU time counts as simulated time too (× the scale): it can push the first DeregisterImage back by a few simulated seconds, which the pacer's saved tokens make up later; compare a lower scale before trusting that row. End-to-end rate: AMIs deleted over the simulated seconds from the first API call (the listing included) to the last DeregisterImage that succeeded. DescribeImages floor: one listing of the account, ceil(${fmt(images)} / 1000); target: twice the floor plus one re-check per batch of ${BATCH_SIZE}.`,
        "",
        table(runs),
        ...(deployed?.pageTimings?.length
            ? [
                  "",
                  `Deployed column, the deregister function's ${maxConcurrency} containers page by page (simulated s from the first API call; a container's idle time is the page's span less its invocations, each from its start to its last EC2 call's answer):`,
                  "",
                  pageTable(deployed, maxConcurrency),
              ]
            : []),
    ].join("\n");
}

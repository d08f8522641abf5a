// Runs the deployed state machine's definition in-process (aws-local-stepfunctions), each Lambda task bound to
// the same handler the Lambda entry uses, against whatever EC2 endpoint the caller's client talks to. Executions
// chain the way they do in AWS: each page's execution starts the next one.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { StateMachine } from "aws-local-stepfunctions";
import {
    type AslDefinition,
    buildDefinition,
    PARTIAL_FAILURE_ERROR,
    StateNames,
} from "../components/definition";
import type { BatchSummary, ImageRecord } from "../functions/core/batches";
import {
    type DeleteSnapshotsEvent,
    type DeregisterEvent,
    deleteSnapshotsBatchHandler,
    deregisterBatchHandler,
    listExpiredImagesHandler,
} from "../functions/core/handlers";
import type { ImageItem, Listing } from "../functions/core/images";
import { type Log, silentLog } from "../functions/core/log";
import type { Backoff } from "../functions/core/pool";
import type { Skipped } from "../functions/core/selection";
import { awsHistoryEvents, type LocalEvent, maxPayloadBytes, stateTransitions } from "./stats";

/** Placeholder ARNs: every Task is overridden by a local handler, so nothing is invoked in AWS. */
export const LOCAL_FUNCTION_ARNS = {
    listFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-list",
    deregisterFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-deregister",
    deleteSnapshotsFunctionArn:
        "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-snapshots",
};
export const LOCAL_STATE_MACHINE_ARN =
    "arn:aws:states:us-east-1:123456789012:stateMachine:image-janitor-local";

export interface LocalRunOptions {
    ec2: EC2Client;
    validHours: number;
    dryRun?: boolean;
    /** Batches worked at once. Defaults to 4. */
    maxConcurrency?: number;
    /** EC2 calls each batch keeps in flight. Defaults to 4. */
    callsPerBatch?: number;
    log?: Log;
    now?: () => Date;
    /** Called as batches finish: AMIs done so far, and AMIs found to delete so far. */
    onProgress?: (done: number, total: number) => void;
    /** Replaces every state-level Retry interval (milliseconds): tests use 0 so a retry path does not wait. */
    retryIntervalMs?: number;
    /** Backoff for throttled EC2 calls inside a batch. Defaults to the deployed functions' backoff. */
    backoff?: Backoff;
    /** Guardrails, as the deployed state machine takes them; see DefinitionOptions for the defaults. */
    keepTagKey?: string;
    keepLatest?: number;
    groupByTag?: string;
    protectInUse?: boolean;
    /** Runs another definition with the same local handlers (the benchmark's original design). */
    definition?: AslDefinition;
    /** Aborting stops the running execution, as StopExecution would; the run then rejects. */
    signal?: AbortSignal;
}

export interface RunStats {
    executions: number;
    /** The most history events any one execution would record in AWS. */
    historyEvents: number;
    maxStatePayloadBytes: number;
    lambdaInvocations: number;
    stateTransitions: number;
    ec2Calls: Record<string, number>;
}

export interface RunSummary {
    dryRun: boolean;
    validHours: number;
    /** The AMIs the run set out to delete, page after page. */
    expired: ImageItem[];
    /** Expired AMIs kept by a guardrail when listed, or found kept when their batch ran, with the reason. */
    skipped: Skipped[];
    /** GiB the deletions free (dry run: would free), from the snapshots' volume sizes. */
    estimatedGiB: number;
    /** AMIs deregistered with the snapshots that are gone now (empty in a dry run). */
    deleted: { imageId: string; snapshotIds: string[] }[];
    /** Dry run only: what a real run would delete. */
    wouldDelete: { imageId: string; snapshotIds: string[] }[];
    skippedSnapshots: { imageId: string; snapshotId: string; reason: string }[];
    failed: { imageId: string; error: string }[];
    /** The run's own execution was not needed: an earlier run was still going. */
    overlapSkipped?: boolean;
    stats: RunStats;
}

/** Page summaries as the definition's SummarizeState writes them. */
interface PageSummary {
    batches: (BatchSummary | { status: "failed"; firstImageId: string; error: string; cause: string })[];
    next?: { executionArn: string };
}

/** A Lambda failure's Cause is a JSON document with errorMessage; a local handler's is the plain message. */
export function describeFailure(error: string | undefined, cause: string | undefined): string {
    let message = cause ?? "";
    try {
        const parsed = JSON.parse(message) as { errorMessage?: unknown };
        if (parsed && typeof parsed.errorMessage === "string") message = parsed.errorMessage;
    } catch {
        // a plain message already
    }
    return error ? `${error}: ${message}` : message;
}

/** Executions of each local state machine that are running now, as ListExecutions would report them. */
const running = new Map<string, Set<string>>();
let executionsStarted = 0;
const nextExecutionArn = () =>
    `${LOCAL_STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")}:local-${++executionsStarted}`;

/** Counts every EC2 request attempt by action, including the SDK's own retries. */
function countEc2Calls(ec2: EC2Client, counts: Record<string, number>): () => void {
    const name = `image-janitor-count-${Math.random().toString(36).slice(2)}`;
    ec2.middlewareStack.add(
        (next, context) => async (args) => {
            const action = String(context.commandName ?? "Unknown").replace(/Command$/, "");
            counts[action] = (counts[action] ?? 0) + 1;
            return next(args);
        },
        { step: "deserialize", name },
    );
    return () => ec2.middlewareStack.remove(name);
}

function lambdaStates(definition: AslDefinition): Set<string> {
    const names = new Set<string>();
    const visit = (states: Record<string, Record<string, unknown>>) => {
        for (const [name, state] of Object.entries(states)) {
            if (state.Type === "Task" && String(state.Resource).startsWith("arn:aws:lambda:"))
                names.add(name);
            const inner = (state.ItemProcessor ?? state.Iterator) as { States?: typeof states } | undefined;
            if (inner?.States) visit(inner.States);
        }
    };
    visit(definition.States as Record<string, Record<string, unknown>>);
    return names;
}

export async function runCleanup(opts: LocalRunOptions): Promise<RunSummary> {
    const { ec2, validHours, dryRun = false, maxConcurrency = 4, log = silentLog, now, onProgress } = opts;
    const definition =
        opts.definition ??
        buildDefinition({
            ...LOCAL_FUNCTION_ARNS,
            validHours,
            dryRun,
            maxConcurrency,
            callsPerBatch: opts.callsPerBatch,
            keepTagKey: opts.keepTagKey,
            keepLatest: opts.keepLatest,
            groupByTag: opts.groupByTag,
            protectInUse: opts.protectInUse,
        });
    const handlerOpts = { log, now, ...(opts.backoff ? { backoff: opts.backoff } : {}) };

    const stats: RunStats = {
        executions: 0,
        historyEvents: 0,
        maxStatePayloadBytes: 0,
        lambdaInvocations: 0,
        stateTransitions: 0,
        ec2Calls: {},
    };
    const listed = new Map<string, ImageItem>();
    const paged: string[] = [];
    let firstListing: Listing | undefined;
    let estimatedGiB = 0;
    const records = new Map<string, ImageRecord>();
    const batchesByFirstId = new Map<string, string[]>();
    const failedBatches: { firstImageId: string; error: string }[] = [];
    let overlapSkipped = false;

    const invoked =
        <E, R>(fn: (event: E) => Promise<R>) =>
        async (input: unknown) => {
            // The local engine lets an aborted execution's Map go on; a stopped execution invokes nothing more.
            if (opts.signal?.aborted) throw new Error("the run was stopped");
            stats.lambdaInvocations += 1;
            return (await fn(input as E)) as never;
        };
    const list = listExpiredImagesHandler(ec2, {
        ...handlerOpts,
        onListing: (listing) => {
            firstListing ??= listing;
            for (const i of listing.images) listed.set(i.imageId, i);
        },
    });
    const deregister = deregisterBatchHandler(ec2, handlerOpts);
    const snapshots = deleteSnapshotsBatchHandler(ec2, handlerOpts);
    const queue: unknown[] = [{}];
    const machineRunning = running.get(LOCAL_STATE_MACHINE_ARN) ?? new Set<string>();
    running.set(LOCAL_STATE_MACHINE_ARN, machineRunning);

    const handlers = {
        [StateNames.findRunning]: async () => ({
            Executions: [...machineRunning].map((executionArn) => ({ executionArn, status: "RUNNING" })),
        }),
        [StateNames.list]: invoked(async (event: Parameters<typeof list>[0]) => {
            const page = await list(event);
            for (const b of page.batches) for (const i of b.images) paged.push(i.imageId);
            estimatedGiB += page.estimatedGiB;
            return page;
        }),
        [StateNames.deregister]: invoked(async (event: DeregisterEvent) => {
            const ids = (event?.images ?? []).map((i) => i.imageId);
            if (ids[0]) batchesByFirstId.set(ids[0], ids);
            return deregister(event);
        }),
        [StateNames.snapshots]: invoked(async (event: DeleteSnapshotsEvent) => {
            const result = await snapshots(event);
            for (const r of result.images) records.set(r.imageId, r);
            onProgress?.(records.size, paged.length);
            return result;
        }),
        [StateNames.continueAsNew]: async (input: unknown) => {
            queue.push((input as { Input: unknown }).Input);
            return {
                ExecutionArn: `${LOCAL_STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")}:${stats.executions + queue.length}`,
            };
        },
    };
    const retryStates = [
        StateNames.findRunning,
        StateNames.list,
        StateNames.deregister,
        StateNames.snapshots,
        StateNames.continueAsNew,
    ];
    const retryIntervalOverrides =
        opts.retryIntervalMs === undefined
            ? undefined
            : Object.fromEntries(retryStates.map((s) => [s, opts.retryIntervalMs as number]));
    const lambdas = lambdaStates(definition);
    const machine = new StateMachine(definition as never);
    const stopCounting = countEc2Calls(ec2, stats.ec2Calls);

    try {
        for (let input = queue.shift(); input !== undefined; input = queue.shift()) {
            stats.executions += 1;
            const executionArn = nextExecutionArn();
            machineRunning.add(executionArn);
            const execution = machine.run(input as never, {
                overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
                context: {
                    Execution: { Id: executionArn, Name: executionArn.split(":").pop() },
                    StateMachine: { Id: LOCAL_STATE_MACHINE_ARN, Name: "image-janitor-local" },
                } as never,
            });
            const abort = () => execution.abort();
            opts.signal?.addEventListener("abort", abort);
            if (opts.signal?.aborted) abort();
            const events: LocalEvent[] = [];
            const collecting = (async () => {
                for await (const event of execution.eventLogs) events.push(event as LocalEvent);
            })();
            let output: unknown;
            try {
                output = await execution.result;
            } catch (err) {
                const cause = (err as { cause?: { name?: string; message?: string } }).cause;
                if (cause?.name !== PARTIAL_FAILURE_ERROR || !cause.message) throw err;
                output = JSON.parse(cause.message);
            } finally {
                opts.signal?.removeEventListener("abort", abort);
                await collecting.catch(() => undefined);
                machineRunning.delete(executionArn);
            }
            stats.historyEvents = Math.max(
                stats.historyEvents,
                awsHistoryEvents(events, { lambdaStates: lambdas }).length,
            );
            stats.maxStatePayloadBytes = Math.max(stats.maxStatePayloadBytes, maxPayloadBytes(events));
            stats.stateTransitions += stateTransitions(events);
            const page = output as PageSummary & { skipped?: unknown };
            if (typeof page?.skipped === "string") overlapSkipped = true;
            for (const b of page?.batches ?? []) {
                if (b.status === "failed" && "firstImageId" in b) {
                    failedBatches.push({
                        firstImageId: b.firstImageId,
                        error: describeFailure(b.error, b.cause),
                    });
                }
            }
        }
    } finally {
        stopCounting();
    }

    // A batch that failed as a whole reports each of its AMIs that has no record of its own.
    for (const { firstImageId, error } of failedBatches) {
        for (const imageId of batchesByFirstId.get(firstImageId) ?? [firstImageId]) {
            if (!records.has(imageId)) {
                records.set(imageId, {
                    imageId,
                    status: "failed",
                    snapshotIds: [],
                    alreadyGone: [],
                    skippedSnapshots: [],
                    error,
                });
            }
        }
    }
    const all = paged.map((id) => records.get(id)).filter((r): r is ImageRecord => !!r);
    const done = (r: ImageRecord) => ({
        imageId: r.imageId,
        snapshotIds: [...r.snapshotIds, ...r.alreadyGone],
    });
    return {
        dryRun,
        validHours,
        expired: paged.map((id) => listed.get(id)).filter((i): i is ImageItem => !!i),
        skipped: [
            ...(firstListing?.skipped ?? []),
            ...all
                .filter((r) => r.status === "kept")
                .map((r) => ({ imageId: r.imageId, reason: r.reason ?? "" })),
        ],
        estimatedGiB,
        deleted: all.filter((r) => r.status === "deleted").map(done),
        wouldDelete: all.filter((r) => r.status === "would-delete").map(done),
        skippedSnapshots: all.flatMap((r) => r.skippedSnapshots.map((k) => ({ imageId: r.imageId, ...k }))),
        failed: all
            .filter((r) => r.status === "failed")
            .map((r) => ({ imageId: r.imageId, error: r.error ?? "" })),
        ...(overlapSkipped ? { overlapSkipped } : {}),
        stats,
    };
}

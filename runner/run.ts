// Runs the deployed state machine's definition in-process, each Lambda task bound to the same handler the Lambda
// entry uses, against whatever EC2 endpoint the caller's client talks to, and reports every AMI's outcome.
import type { EC2Client } from "@aws-sdk/client-ec2";
import {
    buildDefinition,
    DEFAULT_MAX_CONCURRENCY,
    PARTIAL_FAILURE_ERROR,
    StateNames,
} from "../components/definition";
import type { BatchSummary, ImageRecord } from "../functions/core/batches";
import {
    type DeleteSnapshotsEvent,
    type DeregisterEvent,
    deleteSnapshotsBatchHandler,
    deregisterBatchHandler,
    type ListEvent,
    listExpiredImagesHandler,
} from "../functions/core/handlers";
import type { ImageItem, Listing } from "../functions/core/images";
import { type Log, silentLog } from "../functions/core/log";
import type { Backoff } from "../functions/core/pool";
import type { Skipped } from "../functions/core/selection";
import { type RunStats, runExecutions } from "./engine";

export type { RunStats } from "./engine";

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
    /** Batches worked at once. Defaults to 2. */
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
    /** Aborting stops the running execution, as StopExecution would; the run then rejects. */
    signal?: AbortSignal;
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

export async function runCleanup(opts: LocalRunOptions): Promise<RunSummary> {
    const {
        ec2,
        validHours,
        dryRun = false,
        maxConcurrency = DEFAULT_MAX_CONCURRENCY,
        log = silentLog,
        now,
        onProgress,
    } = opts;
    const definition = buildDefinition({
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

    const listed = new Map<string, ImageItem>();
    const paged: string[] = [];
    let firstListing: Listing | undefined;
    let estimatedGiB = 0;
    const records = new Map<string, ImageRecord>();
    const batchesByFirstId = new Map<string, string[]>();
    const failedBatches: { firstImageId: string; error: string }[] = [];
    let overlapSkipped = false;

    const list = listExpiredImagesHandler(ec2, {
        ...handlerOpts,
        onListing: (listing) => {
            firstListing ??= listing;
            for (const i of listing.images) listed.set(i.imageId, i);
        },
    });
    const deregister = deregisterBatchHandler(ec2, handlerOpts);
    const snapshots = deleteSnapshotsBatchHandler(ec2, handlerOpts);
    const { outputs, stats } = await runExecutions({
        definition,
        ec2,
        retryIntervalMs: opts.retryIntervalMs,
        signal: opts.signal,
        reportedFailure: PARTIAL_FAILURE_ERROR,
        lambdas: {
            [StateNames.list]: async (event) => {
                const page = await list(event as ListEvent);
                for (const b of page.batches) for (const i of b.images) paged.push(i.imageId);
                estimatedGiB += page.estimatedGiB;
                return page;
            },
            [StateNames.deregister]: async (event) => {
                const ids = ((event as DeregisterEvent)?.images ?? []).map((i) => i.imageId);
                if (ids[0]) batchesByFirstId.set(ids[0], ids);
                return deregister(event as DeregisterEvent);
            },
            [StateNames.snapshots]: async (event) => {
                const result = await snapshots(event as DeleteSnapshotsEvent);
                for (const r of result.images) records.set(r.imageId, r);
                onProgress?.(records.size, paged.length);
                return result;
            },
        },
    });
    for (const output of outputs) {
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

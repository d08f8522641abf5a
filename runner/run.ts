// Runs the deployed state machine's definition in-process, each Lambda task bound to the same handler the Lambda
// entry uses, against whatever EC2 endpoint the caller's client talks to, and reports every AMI's outcome.

import type { EC2Client } from "@aws-sdk/client-ec2";
import { buildDefinition, type FunctionArns, StateNames } from "../components/definition";
import {
    type BatchSummary,
    deletedGiBOf,
    type ImageRecord,
    type SnapshotRecord,
} from "../functions/core/ami/batches";
import type { ImageItem } from "../functions/core/ami/listing";
import type { Backoff } from "../functions/core/ami/pool";
import type { Skipped } from "../functions/core/ami/selection";
import type { CleanupSettings } from "../functions/core/ami/settings";
import {
    type DeleteSnapshotsEvent,
    type DeregisterEvent,
    deleteSnapshotsBatchHandler,
    deregisterBatchHandler,
    type ListEvent,
    listExpiredImagesHandler,
} from "../functions/core/ami/tasks";
import type { UsageClients } from "../functions/core/ami/usage";
import { ErrorNames } from "../functions/core/shared/errors";
import { type Log, silentLog } from "../functions/core/shared/log";
import type { Pacer } from "../functions/core/shared/pacing";
import { type RunStats, runExecutions } from "./engine";

export type { RunStats } from "./engine";

/** Placeholder ARNs: every Task is overridden by a local handler, so nothing is invoked in AWS. */
export const LOCAL_FUNCTION_ARNS: FunctionArns = {
    list: "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-list",
    deregister: "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-deregister",
    snapshots: "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-snapshots",
};

export interface LocalRunOptions {
    /** EC2, and the Auto Scaling and SSM clients the in-use lookups read. */
    clients: UsageClients;
    /** Parsed by the settings module, as the deployed state machine receives them. */
    settings: CleanupSettings;
    log?: Log;
    now?: () => Date;
    /** Called as batches finish: AMIs done so far, and AMIs found to delete so far. */
    onProgress?: (done: number, total: number) => void;
    /** Replaces every state-level Retry interval (milliseconds): tests use 0 so a retry path does not wait. */
    retryIntervalMs?: number;
    /** Backoff for throttled EC2 calls inside a batch. Defaults to the deployed functions' backoff. */
    backoff?: Backoff;
    /** Aborting stops the running execution, as StopExecution would; the run then rejects. */
    signal?: AbortSignal;
    /**
     * Builds one Lambda container's EC2 client and its pacer. Given, each batch function runs on
     * maxConcurrency such containers, one batch at a time each, every pacer taking 1/maxConcurrency of EC2's
     * rates, as deployed (the benchmark simulates that). By default every batch shares `clients.ec2`.
     */
    container?: () => { ec2: EC2Client; pacer: Pacer };
}

type BatchHandler<E, R> = (event: E) => Promise<R>;

/**
 * `make` bound to `n` containers, or to the shared client: a call waits for a free container, as Lambda
 * would start one per concurrent invocation.
 */
export function onContainers<E, R>(
    n: number,
    container: LocalRunOptions["container"],
    shared: EC2Client,
    make: (ec2: EC2Client, pacer?: Pacer) => BatchHandler<E, R>,
): BatchHandler<E, R> {
    if (!container) return make(shared);
    const free = Array.from({ length: n }, () => {
        const c = container();
        return make(c.ec2, c.pacer);
    });
    const waiting: ((h: BatchHandler<E, R>) => void)[] = [];
    return async (event) => {
        const handler = free.pop() ?? (await new Promise<BatchHandler<E, R>>((r) => waiting.push(r)));
        try {
            return await handler(event);
        } finally {
            const next = waiting.shift();
            if (next) next(handler);
            else free.push(handler);
        }
    };
}

export type ImageResult = ImageRecord["status"];

export interface RunSummary {
    dryRun: boolean;
    validHours: number;
    /**
     * Every AMI strictly older than validHours when listed, kept ones included, page after page. Each ends as
     * exactly one of deleted (or, dry run, wouldDelete), alreadyGone, skipped or failed.
     */
    expired: ImageItem[];
    /** Expired AMIs kept by a guardrail when listed, or found kept when their batch ran, with the reason. */
    skipped: Skipped[];
    /** GiB the deletions free (dry run: would free), from the snapshots' volume sizes. */
    estimatedGiB: number;
    /** AMIs this run deregistered, with the snapshots that are gone now (empty in a dry run). */
    deleted: { imageId: string; snapshotIds: string[] }[];
    /** Dry run only: what a real run would delete. */
    wouldDelete: { imageId: string; snapshotIds: string[] }[];
    /** disableForHours: AMIs this run disabled, each deleted once it has stayed disabled that long. */
    disabled: { imageId: string; disabledAt: string }[];
    /** Dry run only: what a real run would disable. */
    wouldDisable: { imageId: string }[];
    /** AMIs someone else deregistered between the listing and their batch: their snapshots are left alone. */
    alreadyGone: { imageId: string; snapshotIds: string[] }[];
    skippedSnapshots: { imageId: string; snapshotId: string; reason: string }[];
    failed: { imageId: string; error: string }[];
    /** Snapshots no AMI used: deletions an earlier run left unfinished, and (sweepOrphanSnapshots) orphans. */
    strays: SnapshotRecord[];
    /**
     * With recycleBinDays: what the Recycle Bin keeps of this run's deletions (dry run: would keep), from the
     * volume sizes, so at most; the user pays standard snapshot storage for it until it expires.
     */
    retention?: { recycleBinDays: number; retainedGiB: number; gibDays: number };
    /** The run's own execution was not needed: an earlier run was still going. */
    overlapSkipped?: boolean;
    stats: RunStats;
}

/** Page summaries as the definition's SummarizeState writes them. */
interface PageSummary {
    batches: (BatchSummary | { status: "failed"; id: string; error: string; cause: string })[];
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

/** Each AMI's result in the summary, for the table. */
export function resultsOf(s: RunSummary): Map<string, { result: ImageResult; detail: string }> {
    const out = new Map<string, { result: ImageResult; detail: string }>();
    for (const k of s.skipped) out.set(k.imageId, { result: "kept", detail: k.reason });
    for (const d of s.deleted) out.set(d.imageId, { result: "deleted", detail: d.snapshotIds.join(",") });
    for (const d of s.wouldDelete)
        out.set(d.imageId, { result: "would-delete", detail: d.snapshotIds.join(",") });
    for (const d of s.disabled) out.set(d.imageId, { result: "disabled", detail: d.disabledAt });
    for (const d of s.wouldDisable) out.set(d.imageId, { result: "would-disable", detail: "" });
    for (const d of s.alreadyGone)
        out.set(d.imageId, { result: "already-gone", detail: d.snapshotIds.join(",") });
    for (const f of s.failed) out.set(f.imageId, { result: "failed", detail: f.error });
    return out;
}

export async function runCleanup(opts: LocalRunOptions): Promise<RunSummary> {
    const { clients, settings, log = silentLog, now, onProgress } = opts;
    const { ec2 } = clients;
    const definition = buildDefinition({ functionArns: LOCAL_FUNCTION_ARNS, settings });
    const handlerOpts = { log, now, ...(opts.backoff ? { backoff: opts.backoff } : {}) };

    // Every listing's expired AMIs and keeps, first seen wins: later pages re-list the account.
    const expired = new Map<string, ImageItem>();
    const skipped = new Map<string, string>();
    const paged: string[] = [];
    let estimatedGiB = 0;
    const records = new Map<string, ImageRecord>();
    const strays = new Map<string, SnapshotRecord>();
    const batchesById = new Map<string, string[]>();
    const failedBatches: { id: string; error: string }[] = [];
    let overlapSkipped = false;

    const list = listExpiredImagesHandler(clients, {
        ...handlerOpts,
        onListing: (listing) => {
            for (const i of listing.expired) if (!expired.has(i.imageId)) expired.set(i.imageId, i);
            for (const k of listing.skipped) if (!skipped.has(k.imageId)) skipped.set(k.imageId, k.reason);
        },
    });
    const lanes = settings.maxConcurrency;
    const deregister = onContainers(lanes, opts.container, ec2, (client, pacer) =>
        deregisterBatchHandler(client, { ...handlerOpts, ...(pacer ? { pacer } : {}) }),
    );
    const snapshots = onContainers(lanes, opts.container, ec2, (client, pacer) =>
        deleteSnapshotsBatchHandler(client, { ...handlerOpts, ...(pacer ? { pacer } : {}) }),
    );
    const { outputs, stats } = await runExecutions({
        definition,
        ec2,
        retryIntervalMs: opts.retryIntervalMs,
        signal: opts.signal,
        reportedFailure: ErrorNames.partialFailure,
        lambdas: {
            [StateNames.list]: async (event) => {
                const page = await list(event as ListEvent);
                for (const b of page.batches) for (const i of b.images) paged.push(i.imageId);
                estimatedGiB += page.estimatedGiB;
                return page;
            },
            // The same function, as deployed: a refresh lists the account for the next page while this one deletes.
            [StateNames.refresh]: async (event) => list(event as ListEvent & { refresh: true }),
            [StateNames.deregister]: async (event) => {
                const e = event as DeregisterEvent & { id?: string };
                if (e?.id)
                    batchesById.set(
                        e.id,
                        (e.images ?? []).map((i) => i.imageId),
                    );
                return deregister(e);
            },
            [StateNames.snapshots]: async (event) => {
                const result = await snapshots(event as DeleteSnapshotsEvent);
                for (const r of result.images) records.set(r.imageId, r);
                for (const r of result.snapshots) strays.set(r.snapshotId, r);
                onProgress?.(records.size, paged.length);
                return result;
            },
        },
    });
    for (const output of outputs) {
        const page = output as PageSummary & { skipped?: unknown };
        if (typeof page?.skipped === "string") overlapSkipped = true;
        for (const b of page?.batches ?? []) {
            if (b.status === "failed" && "cause" in b) {
                failedBatches.push({ id: b.id, error: describeFailure(b.error, b.cause) });
            }
        }
    }

    // A batch that failed as a whole reports each of its AMIs that has no record of its own.
    for (const { id, error } of failedBatches) {
        for (const imageId of batchesById.get(id) ?? (id.startsWith("ami-") ? [id] : [])) {
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
    // Each AMI ends one way: its batch's record, where it has one, overrides what a listing said.
    for (const r of all) {
        if (r.status === "kept") skipped.set(r.imageId, r.reason ?? "");
        else skipped.delete(r.imageId);
    }
    const done = (r: ImageRecord) => ({
        imageId: r.imageId,
        snapshotIds: [...r.snapshotIds, ...r.alreadyGone],
    });
    const retainedGiB = deletedGiBOf(all, [...strays.values()]);
    return {
        dryRun: settings.dryRun,
        validHours: settings.validHours,
        expired: [...expired.values()],
        skipped: [...skipped].map(([imageId, reason]) => ({ imageId, reason })),
        estimatedGiB,
        deleted: all.filter((r) => r.status === "deleted").map(done),
        wouldDelete: all.filter((r) => r.status === "would-delete").map(done),
        disabled: all
            .filter((r) => r.status === "disabled")
            .map((r) => ({ imageId: r.imageId, disabledAt: r.disabledAt ?? "" })),
        wouldDisable: all.filter((r) => r.status === "would-disable").map((r) => ({ imageId: r.imageId })),
        alreadyGone: all
            .filter((r) => r.status === "already-gone")
            .map((r) => ({ imageId: r.imageId, snapshotIds: r.leftSnapshots ?? [] })),
        skippedSnapshots: all.flatMap((r) => r.skippedSnapshots.map((k) => ({ imageId: r.imageId, ...k }))),
        failed: all
            .filter((r) => r.status === "failed")
            .map((r) => ({ imageId: r.imageId, error: r.error ?? "" })),
        strays: [...strays.values()],
        ...(settings.recycleBinDays > 0
            ? {
                  retention: {
                      recycleBinDays: settings.recycleBinDays,
                      retainedGiB,
                      gibDays: retainedGiB * settings.recycleBinDays,
                  },
              }
            : {}),
        ...(overlapSkipped ? { overlapSkipped } : {}),
        stats,
    };
}

// Runs the deployed state machine's definition in-process (aws-local-stepfunctions), each Lambda task bound to
// the same handler the Lambda entry uses, against whatever EC2 endpoint the caller's client talks to.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { StateMachine } from "aws-local-stepfunctions";
import { buildDefinition, PARTIAL_FAILURE_ERROR, StateNames } from "../components/definition";
import {
    deleteSnapshotsHandler,
    deregisterImageHandler,
    listExpiredImagesHandler,
} from "../functions/core/handlers";
import type { ImageItem } from "../functions/core/images";
import { type Log, silentLog } from "../functions/core/log";
import type { Skipped } from "../functions/core/selection";

/** Placeholder ARNs: every Task is overridden by a local handler, so nothing is invoked in AWS. */
export const LOCAL_FUNCTION_ARNS = {
    listFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-list",
    deregisterFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-deregister",
    deleteSnapshotsFunctionArn:
        "arn:aws:lambda:us-east-1:123456789012:function:image-janitor-local-snapshots",
};

export interface LocalRunOptions {
    ec2: EC2Client;
    validHours: number;
    dryRun?: boolean;
    maxConcurrency?: number;
    log?: Log;
    now?: () => Date;
    /** Called after each AMI's iteration ends, successfully or not. */
    onProgress?: (done: number, total: number) => void;
    /** Replaces every Retry interval (milliseconds): tests use 0 so a retry path does not wait. */
    retryIntervalMs?: number;
    /** Guardrails, as the deployed state machine takes them; see DefinitionOptions for the defaults. */
    keepTagKey?: string;
    keepLatest?: number;
    groupByTag?: string;
    protectInUse?: boolean;
}

/** One iteration's compact record, as the definition's ImageDoneState and ImageFailedState write it. */
export interface IterationRecord {
    imageId: string;
    status: "deleted" | "would-delete" | "failed";
    deregister?: string;
    snapshotIds?: string[];
    alreadyGone?: string[];
    skippedSnapshots?: { snapshotId: string; reason: string }[];
    error?: string;
    cause?: string;
}

export interface RunSummary {
    dryRun: boolean;
    validHours: number;
    expired: ImageItem[];
    /** Expired AMIs kept by a guardrail, with the reason. */
    skipped: Skipped[];
    /** GiB the deletions free (dry run: would free), from the snapshots' volume sizes. */
    estimatedGiB: number;
    /** AMIs deregistered with the snapshots that are gone now (empty in a dry run). */
    deleted: { imageId: string; snapshotIds: string[] }[];
    /** Dry run only: what a real run would delete. */
    wouldDelete: { imageId: string; snapshotIds: string[] }[];
    skippedSnapshots: { imageId: string; snapshotId: string; reason: string }[];
    failed: { imageId: string; error: string }[];
}

interface ExecutionSummary {
    validHours: number;
    dryRun: boolean;
    expired: number;
    skipped: Skipped[];
    estimatedGiB: number;
    results: IterationRecord[];
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

export function summarize(expired: ImageItem[], s: ExecutionSummary): RunSummary {
    const done = (r: IterationRecord) => ({
        imageId: r.imageId,
        snapshotIds: [...(r.snapshotIds ?? []), ...(r.alreadyGone ?? [])],
    });
    return {
        dryRun: s.dryRun,
        validHours: s.validHours,
        expired,
        skipped: s.skipped,
        estimatedGiB: s.estimatedGiB,
        deleted: s.results.filter((r) => r.status === "deleted").map(done),
        wouldDelete: s.results.filter((r) => r.status === "would-delete").map(done),
        skippedSnapshots: s.results.flatMap((r) =>
            (r.skippedSnapshots ?? []).map((k) => ({ imageId: r.imageId, ...k })),
        ),
        failed: s.results
            .filter((r) => r.status === "failed")
            .map((r) => ({ imageId: r.imageId, error: describeFailure(r.error, r.cause) })),
    };
}

export async function runCleanup(opts: LocalRunOptions): Promise<RunSummary> {
    const { ec2, validHours, dryRun = false, maxConcurrency = 10, log = silentLog, now, onProgress } = opts;
    const { keepTagKey, keepLatest, groupByTag, protectInUse } = opts;
    const definition = buildDefinition({
        ...LOCAL_FUNCTION_ARNS,
        validHours,
        dryRun,
        maxConcurrency,
        keepTagKey,
        keepLatest,
        groupByTag,
        protectInUse,
    });
    const list = listExpiredImagesHandler(ec2, { log, now });
    const deregister = deregisterImageHandler(ec2, { log });
    const snapshots = deleteSnapshotsHandler(ec2, { log });

    let expired: ImageItem[] = [];
    const machine = new StateMachine(definition as never);
    const retryOverride =
        opts.retryIntervalMs === undefined
            ? undefined
            : {
                  [StateNames.list]: opts.retryIntervalMs,
                  [StateNames.deregister]: opts.retryIntervalMs,
                  [StateNames.snapshots]: opts.retryIntervalMs,
              };
    const execution = machine.run(
        {},
        {
            overrides: {
                taskResourceLocalHandlers: {
                    [StateNames.list]: async (input) => {
                        const listing = await list(input as never);
                        expired = listing.images;
                        return listing as never;
                    },
                    [StateNames.deregister]: async (input) => (await deregister(input)) as never,
                    [StateNames.snapshots]: async (input) => (await snapshots(input)) as never,
                },
                retryIntervalOverrides: retryOverride,
            },
        },
    );

    const watchProgress = (async () => {
        let done = 0;
        for await (const event of execution.eventLogs) {
            if (event.type === "MapIterationSucceeded" || event.type === "MapIterationFailed") {
                done += 1;
                onProgress?.(done, expired.length);
            }
        }
    })();

    let summary: ExecutionSummary;
    try {
        summary = (await execution.result) as unknown as ExecutionSummary;
    } catch (err) {
        const cause = (err as { cause?: { name?: string; message?: string } }).cause;
        if (cause?.name !== PARTIAL_FAILURE_ERROR || !cause.message) throw err;
        summary = JSON.parse(cause.message) as ExecutionSummary;
    } finally {
        await watchProgress.catch(() => undefined);
    }
    return summarize(expired, summary);
}

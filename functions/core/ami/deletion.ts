// Deleting one AMI, crash-safe: first tag the AMI and its snapshots as being deleted (the record, kept in AWS, that
// lets a later run finish what this one started), then deregister it with the snapshots EC2 can delete in the
// same call, then delete what is left of its snapshots directly. Gone counts as done, so a repeated run is safe.
import {
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    type DeregisterImageCommandOutput,
    DisableImageCommand,
    type EC2Client,
} from "@aws-sdk/client-ec2";
import {
    DRY_RUN,
    type ErrorName,
    ErrorNames,
    errorMessage,
    errorName,
    IMAGE_GONE,
    janitorError,
    SNAPSHOT_GONE,
    SNAPSHOT_IN_USE,
    UNKNOWN_PARAMETER,
    wasRetried,
    wrapAwsError,
} from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import type { Attempt } from "./pool";
import { DISABLED_AT_TAG_KEY, deletionTags } from "./tags";

export interface DeregisterResult {
    imageId: string;
    /**
     * `deregistered` (by this run, a lost answer included), `already-gone` (someone else was first), or
     * `dry-run`.
     */
    outcome: "deregistered" | "already-gone" | "dry-run";
    /** Snapshots EC2 deleted with the image (DeleteAssociatedSnapshots `success`); absent when none. */
    deletedWithImage?: string[];
    /** Snapshots EC2 left because another AMI uses them (`skipped`); absent when none. */
    usedByOthers?: string[];
}

export interface SnapshotSkip {
    snapshotId: string;
    reason: string;
}

export interface DeleteSnapshotsResult {
    imageId: string;
    /** Deleted now, or (dry run) that would be deleted. */
    deleted: string[];
    alreadyGone: string[];
    skipped: SnapshotSkip[];
}

export interface ActionInput {
    imageId: string;
    snapshotIds: string[];
    dryRun: boolean;
}

const NO_ATTEMPT: Attempt = { retry: 0, uncertain: false };

/**
 * Gone now, after a try of ours that may have been carried out (the SDK's retry, or the pool's after a timeout
 * or a 5xx): the retry itself was the second look, and it says the first try did it.
 */
const ours = (err: unknown, attempt: Attempt) => attempt.uncertain || wasRetried(err);

/** Tags the AMI and its snapshots as being deleted, in one call. Dry run: proves the permission. */
export async function tagForDeletion(
    ec2: EC2Client,
    input: ActionInput,
    log: Log = silentLog,
): Promise<void> {
    try {
        await ec2.send(
            new CreateTagsCommand({
                Resources: [input.imageId, ...input.snapshotIds],
                Tags: deletionTags(input.imageId),
                DryRun: input.dryRun,
            }),
        );
    } catch (err) {
        if (input.dryRun && errorName(err) === DRY_RUN) return;
        throw wrapAwsError(input.imageId, "CreateTags", err);
    }
    log({ message: "tagged for deletion", imageId: input.imageId, snapshotIds: input.snapshotIds });
}

/**
 * Tags a snapshot no AMI uses (an orphan of an AMI that is gone) as being deleted with that AMI, just before
 * deleting it: with recycleBinDays, the Recycle Bin keeps it as it keeps every other deletion of the cleanup. A
 * snapshot already gone is left to the delete to report.
 */
export async function tagSnapshotForDeletion(
    ec2: EC2Client,
    snapshotId: string,
    imageId: string,
): Promise<void> {
    try {
        await ec2.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: deletionTags(imageId) }));
    } catch (err) {
        if (!SNAPSHOT_GONE.has(errorName(err))) throw wrapAwsError(snapshotId, "CreateTags", err);
    }
}

export interface DisableResult {
    imageId: string;
    /** `disabled` by this run (or already disabled by someone else, now carrying the cleanup's tag), `already-gone`, `dry-run`. */
    outcome: "disabled" | "already-gone" | "dry-run";
    /** When the cleanup's wait started: the disabled-at tag's value. */
    disabledAt?: string;
}

/**
 * The first stage of deleting: DisableImage (unless the AMI is disabled already), then the tag that says when.
 * In that order, so a run cut between the two leaves a disabled AMI without the cleanup's tag, which the next run
 * tags and waits for again: never an available AMI with the tag, which would read as re-enabled by its owner.
 */
export async function disableImage(
    ec2: EC2Client,
    input: { imageId: string; state: string; dryRun: boolean },
    now: Date,
    log: Log = silentLog,
): Promise<DisableResult> {
    const { imageId, dryRun } = input;
    const disabledAt = now.toISOString();
    try {
        if (input.state !== "disabled")
            await ec2.send(new DisableImageCommand({ ImageId: imageId, DryRun: dryRun }));
    } catch (err) {
        const name = errorName(err);
        if (IMAGE_GONE.has(name)) {
            log({ message: "already gone", imageId, reason: name });
            return { imageId, outcome: "already-gone" };
        }
        if (!(dryRun && name === DRY_RUN)) throw wrapAwsError(imageId, "DisableImage", err);
    }
    try {
        await ec2.send(
            new CreateTagsCommand({
                Resources: [imageId],
                Tags: [{ Key: DISABLED_AT_TAG_KEY, Value: disabledAt }],
                DryRun: dryRun,
            }),
        );
    } catch (err) {
        if (dryRun && errorName(err) === DRY_RUN) {
            log({ message: "would disable", imageId });
            return { imageId, outcome: "dry-run" };
        }
        throw wrapAwsError(imageId, "CreateTags", err);
    }
    log({ message: "disabled", imageId, disabledAt, wasDisabled: input.state === "disabled" });
    return { imageId, outcome: "disabled", disabledAt };
}

/** Deregisters one AMI, with the snapshots EC2 can delete in the same call. */
export async function deregisterImage(
    ec2: EC2Client,
    input: ActionInput,
    log: Log = silentLog,
    attempt: Attempt = NO_ATTEMPT,
): Promise<DeregisterResult> {
    const { imageId } = input;
    const send = (deleteSnapshots: boolean) =>
        ec2.send(
            new DeregisterImageCommand({
                ImageId: imageId,
                DryRun: input.dryRun,
                ...(deleteSnapshots ? { DeleteAssociatedSnapshots: true } : {}),
            }),
        );
    let result: DeregisterImageCommandOutput;
    try {
        try {
            result = await send(true);
        } catch (err) {
            if (
                !UNKNOWN_PARAMETER.has(errorName(err)) ||
                !/DeleteAssociatedSnapshots/i.test(errorMessage(err))
            )
                throw err;
            log({ message: "DeleteAssociatedSnapshots not supported here; deregistering alone", imageId });
            result = await send(false);
        }
    } catch (err) {
        const name = errorName(err);
        if (input.dryRun && name === DRY_RUN) {
            log({ message: "would deregister", imageId });
            return { imageId, outcome: "dry-run" };
        }
        if (IMAGE_GONE.has(name) && ours(err, attempt)) {
            log({ message: "deregistered (its answer was lost; the retry found it gone)", imageId });
            return { imageId, outcome: "deregistered" };
        }
        if (IMAGE_GONE.has(name)) {
            log({ message: "already gone", imageId, reason: name });
            return { imageId, outcome: "already-gone" };
        }
        throw wrapAwsError(imageId, "DeregisterImage", err);
    }
    const codes = result.DeleteSnapshotResults ?? [];
    const withCode = (code: string) =>
        codes.filter((r) => r.ReturnCode === code && r.SnapshotId).map((r) => r.SnapshotId as string);
    const deletedWithImage = withCode("success");
    const usedByOthers = withCode("skipped");
    log({ message: "deregistered", imageId, snapshotsDeletedWithImage: deletedWithImage });
    return {
        imageId,
        outcome: input.dryRun ? "dry-run" : "deregistered",
        ...(deletedWithImage.length > 0 ? { deletedWithImage } : {}),
        ...(usedByOthers.length > 0 ? { usedByOthers } : {}),
    };
}

const IN_USE_BY = /\b(ami-[0-9a-z]+)\b/;

/**
 * Deletes the AMI's EBS snapshots. A snapshot another AMI still uses is skipped with its reason. Every snapshot
 * is tried before any failure is raised, so one bad snapshot does not leave the others behind.
 */
export async function deleteSnapshots(
    ec2: EC2Client,
    input: ActionInput,
    log: Log = silentLog,
    attempt: Attempt = NO_ATTEMPT,
): Promise<DeleteSnapshotsResult> {
    const { imageId, snapshotIds } = input;
    const result: DeleteSnapshotsResult = { imageId, deleted: [], alreadyGone: [], skipped: [] };
    const failures: Error[] = [];
    for (const snapshotId of snapshotIds) {
        try {
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId, DryRun: input.dryRun }));
            result.deleted.push(snapshotId);
            log({ message: "deleted snapshot", imageId, snapshotId });
        } catch (err) {
            const name = errorName(err);
            if (input.dryRun && name === DRY_RUN) {
                result.deleted.push(snapshotId);
                log({ message: "would delete snapshot", imageId, snapshotId });
            } else if (SNAPSHOT_GONE.has(name) && ours(err, attempt)) {
                result.deleted.push(snapshotId);
                log({ message: "deleted snapshot (its answer was lost)", imageId, snapshotId });
            } else if (SNAPSHOT_GONE.has(name)) {
                result.alreadyGone.push(snapshotId);
                log({ message: "snapshot already gone", imageId, snapshotId });
            } else if (name === SNAPSHOT_IN_USE) {
                const user = IN_USE_BY.exec(errorMessage(err))?.[1];
                if (user === imageId && input.dryRun) {
                    // In a dry run the AMI is still registered; the real run deregisters it first.
                    result.deleted.push(snapshotId);
                    log({ message: "would delete snapshot", imageId, snapshotId });
                } else if (user === imageId) {
                    // EC2 releases a just-deregistered AMI's snapshots shortly after; the state retries.
                    failures.push(
                        janitorError(
                            ErrorNames.snapshotStillInUse,
                            `${imageId}: snapshot ${snapshotId} is still held by ${imageId}`,
                        ),
                    );
                } else {
                    const reason = user ? `in-use:image ${user}` : "in-use";
                    result.skipped.push({ snapshotId, reason });
                    log({ message: "keep snapshot", imageId, snapshotId, reason });
                }
            } else {
                failures.push(wrapAwsError(`${imageId}: snapshot ${snapshotId}`, "DeleteSnapshot", err));
            }
        }
    }
    if (failures.length > 0) {
        // Retryable only when every failure is retryable; otherwise report them all as one AWS error.
        const names = new Set(failures.map((f) => f.name));
        const name = names.size === 1 ? (failures[0].name as ErrorName) : ErrorNames.awsError;
        throw janitorError(name, failures.map((f) => f.message).join("; "));
    }
    return result;
}

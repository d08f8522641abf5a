// Deleting one AMI: deregister it (with the snapshots EC2 can delete in the same call), then delete what is left
// of its EBS snapshots. Gone counts as done, so a repeated run is safe. Takes its EC2 client as a parameter.
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    type DeregisterImageCommandOutput,
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
    wrapAwsError,
} from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import type { ImageRef } from "./listing";

export interface DeregisterResult {
    imageId: string;
    /** `deregistered`, `already-gone` (someone else was first, or an earlier run), or `dry-run`. */
    outcome: "deregistered" | "already-gone" | "dry-run";
    /** Snapshots EC2 deleted with the image (DeleteAssociatedSnapshots); absent when none. */
    deletedWithImage?: string[];
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
    image: ImageRef;
    dryRun: boolean;
}

/** Deregisters one AMI. Already gone counts as done, so re-runs are idempotent. */
export async function deregisterImage(
    ec2: EC2Client,
    input: ActionInput,
    log: Log = silentLog,
): Promise<DeregisterResult> {
    const { imageId } = input.image;
    const send = (deleteSnapshots: boolean) =>
        ec2.send(
            new DeregisterImageCommand({
                ImageId: imageId,
                DryRun: input.dryRun,
                ...(deleteSnapshots ? { DeleteAssociatedSnapshots: true } : {}),
            }),
        );
    let deletedWithImage: string[] = [];
    try {
        // One call deregisters and deletes the snapshots no other AMI uses: if the run dies right after it,
        // nothing is orphaned. DeleteSnapshotState then finds them gone, or deletes what EC2 left.
        let result: DeregisterImageCommandOutput;
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
        deletedWithImage = (result.DeleteSnapshotResults ?? [])
            .filter((r) => r.ReturnCode === "success" && r.SnapshotId)
            .map((r) => r.SnapshotId as string);
    } catch (err) {
        const name = errorName(err);
        if (input.dryRun && name === DRY_RUN) {
            log({ message: "would deregister", imageId });
            return { imageId, outcome: "dry-run" };
        }
        if (IMAGE_GONE.has(name)) {
            log({ message: "already gone", imageId, reason: name });
            return { imageId, outcome: "already-gone" };
        }
        throw wrapAwsError(imageId, "DeregisterImage", err);
    }
    log({ message: "deregistered", imageId, snapshotsDeletedWithImage: deletedWithImage });
    return {
        imageId,
        outcome: input.dryRun ? "dry-run" : "deregistered",
        ...(deletedWithImage.length > 0 ? { deletedWithImage } : {}),
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
): Promise<DeleteSnapshotsResult> {
    const { imageId, snapshotIds } = input.image;
    const result: DeleteSnapshotsResult = { imageId, deleted: [], alreadyGone: [], skipped: [] };
    const failures: Error[] = [];
    for (const snapshotId of snapshotIds) {
        try {
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId, DryRun: input.dryRun }));
            result.deleted.push(snapshotId);
            log({
                message: input.dryRun ? "would delete snapshot" : "deleted snapshot",
                imageId,
                snapshotId,
            });
        } catch (err) {
            const name = errorName(err);
            if (input.dryRun && name === DRY_RUN) {
                result.deleted.push(snapshotId);
                log({ message: "would delete snapshot", imageId, snapshotId });
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
        // Retryable failures only when every failure is retryable; otherwise report them all as one AWS error.
        const names = new Set(failures.map((f) => f.name));
        const name = names.size === 1 ? (failures[0].name as ErrorName) : ErrorNames.awsError;
        throw janitorError(name, failures.map((f) => f.message).join("; "));
    }
    return result;
}

// Batches of AMIs: the Map's unit of work. One invocation re-checks and deregisters up to a hundred AMIs, the next
// deletes what is left of their snapshots (and any snapshots an earlier run left unfinished), each with a few EC2
// calls in flight and transient faults absorbed by backoff. Every AMI ends as exactly one outcome.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { ErrorNames, errorMessage, errorName } from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { sleep } from "../shared/time";
import {
    type DeleteSnapshotsResult,
    type DeregisterResult,
    deleteSnapshots,
    deregisterImage,
    disableImage,
    type SnapshotSkip,
    tagForDeletion,
    tagSnapshotForDeletion,
} from "./deletion";
import type { ImageRef } from "./listing";
import { type Attempt, isRetryable, type PoolOptions, runPool } from "./pool";
import { type Current, currentImages, sharedWith } from "./recheck";
import { CANDIDATE_STATES, imageKeepReason, Reasons, stageOf } from "./selection";
import type { CleanupSettings } from "./settings";

/** AMIs per Map item. A hundred keeps invocations at about 20 per 1,000 AMIs and a batch well inside 15 min. */
export const BATCH_SIZE = 100;
/** Failures and keeps listed by name in a batch summary; the counts are always complete. */
export const SUMMARY_EXAMPLES = 10;
const SUMMARY_ERROR_CHARS = 300;

/** A snapshot to delete that no AMI uses any more: a deletion an earlier run left unfinished, or an orphan. */
export interface SnapshotRef {
    snapshotId: string;
    /** `unfinished`, or `orphan of ami-…`. */
    reason: string;
    /** Its volume's size: what the Recycle Bin keeps of it, at most. */
    sizeGiB?: number;
}

/** One AMI after the deregister step. */
export interface DeregisteredImage extends ImageRef {
    /** `disabled` and `would-disable`: the first stage of disableForHours, nothing deleted yet. */
    outcome: DeregisterResult["outcome"] | "disabled" | "would-disable" | "kept" | "failed";
    /** When the cleanup disabled it: it is deleted disableForHours after. */
    disabledAt?: string;
    deletedWithImage?: string[];
    usedByOthers?: string[];
    /** Why a kept AMI was kept. */
    reason?: string;
    error?: string;
}

/** One AMI after both steps: what the run reports for it. */
export interface ImageRecord {
    imageId: string;
    status: "deleted" | "would-delete" | "disabled" | "would-disable" | "already-gone" | "kept" | "failed";
    /** What deleting it frees (and, with recycleBinDays, what the Recycle Bin keeps), at most. */
    sizeGiB?: number;
    /** Disabled by this run: it is deleted once it has stayed disabled disableForHours from then. */
    disabledAt?: string;
    /** Snapshots deleted (dry run: that would be), including those EC2 deleted with the image. */
    snapshotIds: string[];
    /** Snapshots already gone when this run came to delete them. */
    alreadyGone: string[];
    skippedSnapshots: SnapshotSkip[];
    /** An AMI someone else deregistered: its snapshots, left alone (it may have kept them on purpose). */
    leftSnapshots?: string[];
    reason?: string;
    error?: string;
}

/** One unfinished or orphaned snapshot after the snapshot step. */
export interface SnapshotRecord extends SnapshotRef {
    status: "deleted" | "would-delete" | "already-gone" | "kept" | "failed";
    /** Why it was kept (`in-use:image ami-…`), or the error. */
    detail?: string;
}

/** The compact record a Map iteration returns: counts, and a few examples of what went wrong. */
export interface BatchSummary {
    status: "ok" | "failed";
    images: number;
    deleted: number;
    wouldDelete: number;
    /** Disabled by this batch (dry run: that would be), to be deleted after disableForHours. */
    disabled: number;
    wouldDisable: number;
    alreadyGone: number;
    kept: number;
    failed: number;
    snapshotsDeleted: number;
    snapshotsSkipped: number;
    /** Unfinished and orphaned snapshots deleted (dry run: that would be). */
    strayDeleted: number;
    strayFailed: number;
    /** GiB deleted (dry run: that would be), from the volume sizes: at most what is freed. */
    deletedGiB: number;
    /** With recycleBinDays: deletedGiB kept in the Recycle Bin that many days, the storage the user pays for. */
    retainedGiBDays: number;
    failures: { id: string; error: string }[];
    keptImages: { imageId: string; reason: string }[];
}

const describe = (err: unknown) => `${errorName(err)}: ${errorMessage(err)}`;

/**
 * Deregisters a batch. Each AMI is looked up again first: one gone since the listing was deregistered by someone
 * else (its snapshots are left alone); one no longer in a state the cleanup deletes, or newly kept by a rule its
 * own description decides, is kept; one shared with another account is kept (read here, once, for the AMIs about
 * to go only). With disableForHours, those the cleanup has not disabled yet are disabled and tagged with when;
 * the rest are tagged as being deleted, then deregistered. Only running out of time fails the whole batch (the
 * state retries it).
 */
export async function deregisterBatch(
    ec2: EC2Client,
    images: ImageRef[],
    settings: CleanupSettings,
    now: Date,
    pool: PoolOptions,
    log: Log = silentLog,
): Promise<DeregisteredImage[]> {
    const current = await currentImages(
        ec2,
        images.map((i) => i.imageId),
    );
    const out: DeregisteredImage[] = [];
    const failed = (image: ImageRef, action: string, error: unknown) => {
        log({ message: "failed", imageId: image.imageId, action, error: describe(error) });
        out.push({ ...image, outcome: "failed", error: describe(error) });
    };
    const kept = (image: ImageRef, reason: string) => {
        log({ message: "keep", imageId: image.imageId, reason });
        out.push({ ...image, outcome: "kept", reason });
    };
    const toWork: ImageRef[] = [];
    for (const image of images) {
        const c = current.get(image.imageId);
        if (!c) {
            log({ message: "already gone: someone else deregistered it", imageId: image.imageId });
            out.push({ ...image, outcome: "already-gone" });
            continue;
        }
        const reason = CANDIDATE_STATES.has(c.state) ? imageKeepReason(c, settings, now) : `state:${c.state}`;
        // The snapshots it has now, not those it had when listed.
        if (reason) kept(image, reason);
        else toWork.push({ ...image, snapshotIds: c.snapshotIds });
    }
    let allowed = toWork;
    if (settings.keepShared) {
        // Read before disabling: DisableImage removes every launch permission, and EnableImage restores none.
        const shares = await runPool(toWork, (image) => sharedWith(ec2, image.imageId), pool);
        allowed = [];
        shares.forEach((r, i) => {
            if (!r.ok) failed(toWork[i], "DescribeImageAttribute", r.error);
            else if (r.value) kept(toWork[i], r.value);
            else allowed.push(toWork[i]);
        });
    }
    // Every AMI here was found by the re-check.
    const seen = (image: ImageRef) => current.get(image.imageId) as Current;
    const toDisable = allowed.filter((image) => stageOf(seen(image), settings) === "disable");
    const toDeregister = allowed.filter((image) => stageOf(seen(image), settings) === "delete");
    const disabled = await runPool(
        toDisable,
        (image) =>
            disableImage(ec2, { ...image, state: seen(image).state, dryRun: settings.dryRun }, now, log),
        pool,
    );
    disabled.forEach((r, i) => {
        const image = toDisable[i];
        if (!r.ok) failed(image, "DisableImage", r.error);
        else if (r.value.outcome === "already-gone") out.push({ ...image, outcome: "already-gone" });
        else if (r.value.outcome === "dry-run") out.push({ ...image, outcome: "would-disable" });
        else out.push({ ...image, outcome: "disabled", disabledAt: r.value.disabledAt ?? "" });
    });
    const tagged = new Set<string>();
    const deregister = async (image: ImageRef, attempt: Attempt): Promise<DeregisterResult | undefined> => {
        const input = { ...image, dryRun: settings.dryRun };
        if (!tagged.has(image.imageId)) {
            await tagForDeletion(ec2, input, log);
            tagged.add(image.imageId);
        }
        try {
            return await deregisterImage(ec2, input, log, attempt);
        } catch (err) {
            if (isRetryable(err)) throw err;
            // Protection turned on since the re-check is not a failure: look again before reporting one.
            if ((await currentImages(ec2, [image.imageId])).get(image.imageId)?.protected) return undefined;
            throw err;
        }
    };
    const results = await runPool(toDeregister, deregister, pool);
    results.forEach((r, i) => {
        const image = toDeregister[i];
        if (!r.ok) failed(image, tagged.has(image.imageId) ? "DeregisterImage" : "CreateTags", r.error);
        else if (!r.value) kept(image, Reasons.deregistrationProtection);
        else
            out.push({
                ...image,
                outcome: r.value.outcome,
                ...(r.value.deletedWithImage ? { deletedWithImage: r.value.deletedWithImage } : {}),
                ...(r.value.usedByOthers ? { usedByOthers: r.value.usedByOthers } : {}),
            });
    });
    const order = new Map(images.map((i, n) => [i.imageId, n]));
    return out.sort((a, b) => (order.get(a.imageId) ?? 0) - (order.get(b.imageId) ?? 0));
}

/** A just-deregistered AMI releases its snapshots within seconds: a few patient tries, then it is a failure. */
const IN_USE_TRIES = 6;

/** Deletes `snapshotIds` for `imageId`, waiting while the just-deregistered AMI still holds one. */
async function deleteReleased(
    ec2: EC2Client,
    imageId: string,
    snapshotIds: string[],
    dryRun: boolean,
    attempt: Attempt,
    pool: PoolOptions,
    log: Log,
): Promise<DeleteSnapshotsResult> {
    const wait = pool.sleep ?? sleep;
    for (let n = 1; ; n++) {
        try {
            return await deleteSnapshots(ec2, { imageId, snapshotIds, dryRun }, log, attempt);
        } catch (err) {
            if (errorName(err) !== ErrorNames.snapshotStillInUse || n >= IN_USE_TRIES) throw err;
            await wait(1000 * n);
        }
    }
}

/**
 * Deletes what is left of the batch's snapshots: those EC2 neither deleted with the image nor kept for another
 * AMI, each deleted directly (one already gone counts as done). Also deletes the batch's unfinished and orphaned
 * snapshots. Returns every AMI's record and every such snapshot's.
 */
export async function deleteBatchSnapshots(
    ec2: EC2Client,
    images: DeregisteredImage[],
    dryRun: boolean,
    pool: PoolOptions,
    log: Log = silentLog,
    strays: SnapshotRef[] = [],
): Promise<{ images: ImageRecord[]; snapshots: SnapshotRecord[] }> {
    const workable = images.filter((i) => i.outcome === "deregistered" || i.outcome === "dry-run");
    const remainingOf = (i: DeregisteredImage) =>
        dryRun
            ? i.snapshotIds
            : i.snapshotIds.filter((s) => !i.deletedWithImage?.includes(s) && !i.usedByOthers?.includes(s));
    const results = await runPool(
        workable,
        (image, attempt) =>
            deleteReleased(ec2, image.imageId, remainingOf(image), dryRun, attempt, pool, log),
        pool,
    );
    const byId = new Map(workable.map((image, n) => [image.imageId, results[n]]));
    const records = images.map((image): ImageRecord => {
        const base = {
            imageId: image.imageId,
            alreadyGone: [],
            skippedSnapshots: [],
            ...(image.sizeGiB !== undefined ? { sizeGiB: image.sizeGiB } : {}),
        };
        if (image.outcome === "disabled")
            return { ...base, status: "disabled", snapshotIds: [], disabledAt: image.disabledAt ?? "" };
        if (image.outcome === "would-disable") return { ...base, status: "would-disable", snapshotIds: [] };
        if (image.outcome === "kept")
            return { ...base, status: "kept", snapshotIds: [], reason: image.reason ?? "kept" };
        if (image.outcome === "failed")
            return { ...base, status: "failed", snapshotIds: [], error: image.error ?? "failed" };
        if (image.outcome === "already-gone")
            return { ...base, status: "already-gone", snapshotIds: [], leftSnapshots: image.snapshotIds };
        const r = byId.get(image.imageId);
        if (!r?.ok) {
            const error = describe(r?.error);
            log({ message: "failed", imageId: image.imageId, action: "DeleteSnapshot", error });
            return { ...base, status: "failed", snapshotIds: [], error };
        }
        return {
            ...base,
            status: dryRun ? "would-delete" : "deleted",
            snapshotIds: [...(image.deletedWithImage ?? []), ...r.value.deleted],
            alreadyGone: r.value.alreadyGone,
            skippedSnapshots: [
                // EC2 did not delete them with the image: another AMI uses them.
                ...(image.usedByOthers ?? []).map((snapshotId) => ({
                    snapshotId,
                    reason: "in-use:other-image",
                })),
                ...r.value.skipped,
            ],
        };
    });
    return { images: records, snapshots: await deleteStrays(ec2, strays, dryRun, pool, log) };
}

const ORPHAN_OF = /^orphan of (ami-[0-9a-z]+)$/;

async function deleteStrays(
    ec2: EC2Client,
    strays: SnapshotRef[],
    dryRun: boolean,
    pool: PoolOptions,
    log: Log,
): Promise<SnapshotRecord[]> {
    const results = await runPool(
        strays,
        async (s, attempt) => {
            // An unfinished deletion carries the deletion tag already; an orphan gets it now, so it is undoable too.
            const madeFor = ORPHAN_OF.exec(s.reason)?.[1];
            if (madeFor && !dryRun) await tagSnapshotForDeletion(ec2, s.snapshotId, madeFor);
            return deleteSnapshots(
                ec2,
                { imageId: s.reason, snapshotIds: [s.snapshotId], dryRun },
                log,
                attempt,
            );
        },
        pool,
    );
    return strays.map((s, i): SnapshotRecord => {
        const r = results[i];
        if (!r.ok) return { ...s, status: "failed", detail: describe(r.error) };
        if (r.value.skipped.length > 0) return { ...s, status: "kept", detail: r.value.skipped[0].reason };
        if (r.value.alreadyGone.length > 0) return { ...s, status: "already-gone" };
        return { ...s, status: dryRun ? "would-delete" : "deleted" };
    });
}

const isDeleted = (status: string) => status === "deleted" || status === "would-delete";

/**
 * GiB deleted (dry run: that would be), from the volume sizes: at most what is freed, and what the Recycle Bin
 * keeps with recycleBinDays.
 */
export function deletedGiBOf(
    records: Pick<ImageRecord, "status" | "sizeGiB">[],
    strays: Pick<SnapshotRecord, "status" | "sizeGiB">[],
): number {
    const sum = (xs: { status: string; sizeGiB?: number }[]) =>
        xs.filter((x) => isDeleted(x.status)).reduce((n, x) => n + (x.sizeGiB ?? 0), 0);
    return sum(records) + sum(strays);
}

/** Counts over the batch, with the first few failures and keeps by name. */
export function summarizeBatch(
    records: ImageRecord[],
    strays: SnapshotRecord[] = [],
    recycleBinDays = 0,
): BatchSummary {
    const count = (status: ImageRecord["status"]) => records.filter((r) => r.status === status).length;
    const failed = records.filter((r) => r.status === "failed");
    const straysFailed = strays.filter((s) => s.status === "failed");
    const deletedGiB = deletedGiBOf(records, strays);
    const failures = [
        ...failed.map((r) => ({ id: r.imageId, error: r.error ?? "" })),
        ...straysFailed.map((s) => ({ id: s.snapshotId, error: s.detail ?? "" })),
    ];
    return {
        status: failures.length > 0 ? "failed" : "ok",
        images: records.length,
        deleted: count("deleted"),
        wouldDelete: count("would-delete"),
        disabled: count("disabled"),
        wouldDisable: count("would-disable"),
        alreadyGone: count("already-gone"),
        kept: count("kept"),
        failed: failed.length,
        snapshotsDeleted: records.reduce((n, r) => n + r.snapshotIds.length, 0),
        snapshotsSkipped: records.reduce((n, r) => n + r.skippedSnapshots.length, 0),
        strayDeleted: strays.filter((s) => isDeleted(s.status)).length,
        strayFailed: straysFailed.length,
        deletedGiB,
        retainedGiBDays: deletedGiB * recycleBinDays,
        failures: failures.slice(0, SUMMARY_EXAMPLES).map((f) => ({
            ...f,
            error: f.error.slice(0, SUMMARY_ERROR_CHARS),
        })),
        keptImages: records
            .filter((r) => r.status === "kept")
            .slice(0, SUMMARY_EXAMPLES)
            .map((r) => ({ imageId: r.imageId, reason: r.reason ?? "" })),
    };
}

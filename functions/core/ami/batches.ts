// Batches of AMIs: the Map's unit of work. One invocation deregisters up to a hundred AMIs, the next deletes
// what is left of their snapshots, each with a few EC2 calls in flight and throttling absorbed by backoff.
import { type EC2Client, paginateDescribeSnapshots } from "@aws-sdk/client-ec2";
import { calling, ErrorNames, errorMessage, errorName } from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { sleep } from "../shared/time";
import {
    type DeleteSnapshotsResult,
    type DeregisterResult,
    deleteSnapshots,
    deregisterImage,
    type SnapshotSkip,
} from "./deletion";
import type { ImageRef } from "./listing";
import { isRetryable, type PoolOptions, runPool } from "./pool";
import { currentImages, sharedWith } from "./recheck";
import { CANDIDATE_STATES, imageKeepReason, Reasons } from "./selection";
import type { CleanupSettings } from "./settings";

/** AMIs per Map item. A hundred keeps invocations at about 20 per 1,000 AMIs and a batch well inside 15 min. */
export const BATCH_SIZE = 100;
/** EC2 takes at most 200 values per filter. */
const FILTER_VALUES = 200;
/** Failures and keeps listed by name in a batch summary; the counts are always complete. */
export const SUMMARY_EXAMPLES = 10;
const SUMMARY_ERROR_CHARS = 300;

/** One AMI after the deregister step. */
export interface DeregisteredImage extends ImageRef {
    outcome: DeregisterResult["outcome"] | "kept" | "failed";
    deletedWithImage?: string[];
    /** Why a kept AMI was kept. */
    reason?: string;
    error?: string;
}

/** One AMI after both steps: what the run reports for it. */
export interface ImageRecord {
    imageId: string;
    status: "deleted" | "would-delete" | "kept" | "failed";
    deregister?: DeregisteredImage["outcome"];
    /** Snapshots deleted (dry run: that would be), including those EC2 deleted with the image. */
    snapshotIds: string[];
    alreadyGone: string[];
    skippedSnapshots: SnapshotSkip[];
    reason?: string;
    error?: string;
}

/** The compact record a Map iteration returns: counts, and a few examples of what went wrong. */
export interface BatchSummary {
    status: "ok" | "failed";
    images: number;
    deleted: number;
    wouldDelete: number;
    kept: number;
    failed: number;
    snapshotsDeleted: number;
    snapshotsSkipped: number;
    failures: { imageId: string; error: string }[];
    keptImages: { imageId: string; reason: string }[];
}

const chunks = <T>(xs: readonly T[], size: number): T[][] =>
    Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

const describe = (err: unknown) => `${errorName(err)}: ${errorMessage(err)}`;

/**
 * Deregisters a batch. Each AMI is looked up again first: one gone since the listing is done; one no longer in a
 * state the cleanup deletes, or newly kept by a rule its own description decides, is kept; one shared with
 * another account is kept (looked up here, for the AMIs about to go only). Every AMI comes back with its outcome;
 * only running out of time fails the whole batch (so the state retries it).
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
    const toWork: ImageRef[] = [];
    for (const image of images) {
        const c = current.get(image.imageId);
        const reason = !c
            ? undefined
            : !CANDIDATE_STATES.has(c.state)
              ? `state:${c.state}`
              : imageKeepReason(c, settings, now);
        if (!c) {
            log({ message: "already gone", imageId: image.imageId });
            out.push({ ...image, outcome: "already-gone" });
        } else if (reason) {
            log({ message: "keep", imageId: image.imageId, reason });
            out.push({ ...image, outcome: "kept", reason });
        } else {
            toWork.push(image);
        }
    }
    const failed = (image: ImageRef, action: string, error: unknown) => {
        log({ message: "failed", imageId: image.imageId, action, error: describe(error) });
        out.push({ ...image, outcome: "failed", error: describe(error) });
    };
    const kept = (image: ImageRef, reason: string) => {
        log({ message: "keep", imageId: image.imageId, reason });
        out.push({ ...image, outcome: "kept", reason });
    };
    // Launch permissions first, each read once, for the AMIs about to go only.
    let toDeregister = toWork;
    if (settings.keepShared) {
        const shares = await runPool(toWork, (image) => sharedWith(ec2, image.imageId), pool);
        toDeregister = [];
        shares.forEach((r, i) => {
            if (!r.ok) failed(toWork[i], "DescribeImageAttribute", r.error);
            else if (r.value) kept(toWork[i], r.value);
            else toDeregister.push(toWork[i]);
        });
    }
    const deregister = async (image: ImageRef): Promise<DeregisterResult | undefined> => {
        try {
            return await deregisterImage(ec2, { image, dryRun: settings.dryRun }, log);
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
        if (!r.ok) failed(image, "DeregisterImage", r.error);
        else if (!r.value) kept(image, Reasons.deregistrationProtection);
        else
            out.push({
                ...image,
                outcome: r.value.outcome,
                ...(r.value.deletedWithImage ? { deletedWithImage: r.value.deletedWithImage } : {}),
            });
    });
    const order = new Map(images.map((i, n) => [i.imageId, n]));
    return out.sort((a, b) => (order.get(a.imageId) ?? 0) - (order.get(b.imageId) ?? 0));
}

/** Which of these snapshots still exist. */
async function existingSnapshots(ec2: EC2Client, ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const values of chunks(ids, FILTER_VALUES)) {
        const pages = paginateDescribeSnapshots(
            { client: ec2, pageSize: 1000 },
            { OwnerIds: ["self"], Filters: [{ Name: "snapshot-id", Values: values }] },
        );
        await calling(`finding the batch's remaining snapshots`, "DescribeSnapshots", async () => {
            for await (const page of pages)
                for (const s of page.Snapshots ?? []) if (s.SnapshotId) found.add(s.SnapshotId);
        });
    }
    return found;
}

/** A just-deregistered AMI releases its snapshots within seconds: a few patient tries, then it is a failure. */
const IN_USE_TRIES = 6;

/**
 * Deletes what is left of the batch's snapshots: those EC2 did not delete with the image, looked up in one
 * call so a snapshot already gone costs no DeleteSnapshot. Returns every AMI's record.
 */
export async function deleteBatchSnapshots(
    ec2: EC2Client,
    images: DeregisteredImage[],
    dryRun: boolean,
    pool: PoolOptions,
    log: Log = silentLog,
): Promise<ImageRecord[]> {
    const workable = images.filter((i) => i.outcome !== "kept" && i.outcome !== "failed");
    const remainingOf = (i: DeregisteredImage) =>
        i.snapshotIds.filter((s) => !(i.deletedWithImage ?? []).includes(s));
    const exists = dryRun
        ? undefined
        : await existingSnapshots(
              ec2,
              workable.flatMap((i) => remainingOf(i)),
          );
    const wait = pool.sleep ?? sleep;
    const deleteOne = async (image: DeregisteredImage): Promise<DeleteSnapshotsResult> => {
        const snapshotIds = remainingOf(image).filter((s) => !exists || exists.has(s));
        for (let n = 1; ; n++) {
            try {
                return await deleteSnapshots(
                    ec2,
                    { image: { imageId: image.imageId, snapshotIds }, dryRun },
                    log,
                );
            } catch (err) {
                if (errorName(err) !== ErrorNames.snapshotStillInUse || n >= IN_USE_TRIES) throw err;
                await wait(1000 * n);
            }
        }
    };
    const results = await runPool(workable, deleteOne, pool);
    const byId = new Map(workable.map((image, n) => [image.imageId, results[n]]));
    return images.map((image): ImageRecord => {
        const base = {
            imageId: image.imageId,
            deregister: image.outcome,
            alreadyGone: [],
            skippedSnapshots: [],
        };
        if (image.outcome === "kept")
            return { ...base, status: "kept", snapshotIds: [], reason: image.reason ?? "kept" };
        if (image.outcome === "failed")
            return { ...base, status: "failed", snapshotIds: [], error: image.error ?? "failed" };
        const r = byId.get(image.imageId);
        if (!r?.ok) {
            const error = describe(r?.error);
            log({ message: "failed", imageId: image.imageId, action: "DeleteSnapshot", error });
            return { ...base, status: "failed", snapshotIds: [], error };
        }
        const goneBefore = exists ? remainingOf(image).filter((s) => !exists.has(s)) : [];
        return {
            ...base,
            status: dryRun ? "would-delete" : "deleted",
            snapshotIds: [...(image.deletedWithImage ?? []), ...r.value.deleted],
            alreadyGone: [...goneBefore, ...r.value.alreadyGone],
            skippedSnapshots: r.value.skipped,
        };
    });
}

/** Counts over the batch, with the first few failures and keeps by name. */
export function summarizeBatch(records: ImageRecord[]): BatchSummary {
    const count = (status: ImageRecord["status"]) => records.filter((r) => r.status === status).length;
    const failed = records.filter((r) => r.status === "failed");
    return {
        status: failed.length > 0 ? "failed" : "ok",
        images: records.length,
        deleted: count("deleted"),
        wouldDelete: count("would-delete"),
        kept: count("kept"),
        failed: failed.length,
        snapshotsDeleted: records.reduce((n, r) => n + r.snapshotIds.length, 0),
        snapshotsSkipped: records.reduce((n, r) => n + r.skippedSnapshots.length, 0),
        failures: failed.slice(0, SUMMARY_EXAMPLES).map((r) => ({
            imageId: r.imageId,
            error: (r.error ?? "").slice(0, SUMMARY_ERROR_CHARS),
        })),
        keptImages: records
            .filter((r) => r.status === "kept")
            .slice(0, SUMMARY_EXAMPLES)
            .map((r) => ({ imageId: r.imageId, reason: r.reason ?? "" })),
    };
}

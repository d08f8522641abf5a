// The way back from a deletion: finds the cleanup's deletions in the Recycle Bin and restores each AMI after its
// snapshots, as the EC2 user guide requires ("Recover deleted Amazon EBS snapshots and EBS-backed AMIs with
// Recycle Bin"). Takes its EC2 client as a parameter; `npm run restore` is a thin command over it.
import {
    CreateTagsCommand,
    DeleteTagsCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    type EC2Client,
    EnableImageCommand,
    type Image,
    type ImageRecycleBinInfo,
    ListImagesInRecycleBinCommand,
    paginateDescribeImages,
    paginateDescribeTags,
    paginateListImagesInRecycleBin,
    paginateListSnapshotsInRecycleBin,
    RestoreImageFromRecycleBinCommand,
    RestoreSnapshotFromRecycleBinCommand,
    type SnapshotRecycleBinInfo,
} from "@aws-sdk/client-ec2";
import {
    calling,
    DRY_RUN,
    ErrorNames,
    errorMessage,
    errorName,
    IMAGE_ID_UNKNOWN,
    janitorError,
    wrapAwsError,
} from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { sleep } from "../shared/time";
import { MADE_FOR_AMI, tagsOf } from "./listing";
import { DELETING_TAG, DISABLED_AT_TAG_KEY, IMAGE_ID_TAG_KEY, RESTORED_AT_TAG_KEY } from "./tags";

export type RestoreStatus =
    /** Back, with its snapshots; the cleanup keeps it from now on (reason `restored`). */
    | "restored"
    | "would-restore"
    /** Restored by an earlier run: nothing to do. */
    | "already-restored"
    /** Registered and never deleted. */
    | "not-deleted"
    /** Neither in the bin nor registered: deleted without a retention rule, or its retention ended. */
    | "not-in-bin"
    /** In the bin, but not deleted by the cleanup (no deletion tag): another rule keeps it; restore it yourself. */
    | "not-ours"
    | "failed";

export interface RestoreRecord {
    imageId: string;
    status: RestoreStatus;
    /** The snapshots restored with it (dry run: that would be). */
    snapshotIds: string[];
    /** When it entered the bin, and when the bin lets it go. */
    deletedAt?: string;
    binExitsAt?: string;
    /** The cleanup had disabled it before deleting it, and the restore enabled it again. */
    reEnabled?: boolean;
    detail?: string;
}

export interface RestoreOptions {
    /** Restore these AMIs; or, without them, every deletion of the cleanup within `deletedWithinHours`. */
    imageIds?: string[];
    deletedWithinHours?: number;
    dryRun: boolean;
    now?: Date;
    log?: Log;
    /** How long to wait for restored snapshots to leave `recovering`, and how often to look. */
    snapshotWaitMs?: number;
    pollMs?: number;
}

/** ListImagesInRecycleBin takes at most 20 ids a call (EC2 API Reference). */
const IMAGE_IDS_PER_LIST = 20;
/** Values per DescribeTags filter, well within EC2's filter limits. */
const VALUES_PER_FILTER = 200;
const HOUR_MS = 3_600_000;
/** Items per page of every listing here: the most each call allows. */
const PAGE = 1000;

const chunks = <T>(items: T[], size: number) =>
    Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

async function binnedImages(ec2: EC2Client, ids: string[] | undefined): Promise<ImageRecycleBinInfo[]> {
    const out: ImageRecycleBinInfo[] = [];
    if (ids) {
        for (const part of chunks(ids, IMAGE_IDS_PER_LIST)) out.push(...(await listByIds(ec2, part)));
        return out;
    }
    return everyItem(
        "the Recycle Bin",
        "ListImagesInRecycleBin",
        paginateListImagesInRecycleBin({ client: ec2, pageSize: PAGE }, {}),
        (p) => p.Images,
    );
}

/**
 * The bin's entries for these ids. What ListImagesInRecycleBin does with an id it does not hold is not documented;
 * if it refuses the call as DescribeImages does (InvalidAMIID.*), each id is asked alone and a refused one is
 * simply not in the bin.
 */
async function listByIds(ec2: EC2Client, ids: string[]): Promise<ImageRecycleBinInfo[]> {
    try {
        const res = await ec2.send(new ListImagesInRecycleBinCommand({ ImageIds: ids }));
        return res.Images ?? [];
    } catch (err) {
        if (!IMAGE_ID_UNKNOWN.has(errorName(err)))
            throw wrapAwsError(ids.join(","), "ListImagesInRecycleBin", err);
        if (ids.length === 1) return [];
        const out: ImageRecycleBinInfo[] = [];
        for (const id of ids) out.push(...(await listByIds(ec2, [id])));
        return out;
    }
}

const binnedSnapshots = (ec2: EC2Client): Promise<SnapshotRecycleBinInfo[]> =>
    everyItem(
        "the Recycle Bin",
        "ListSnapshotsInRecycleBin",
        paginateListSnapshotsInRecycleBin({ client: ec2, pageSize: PAGE }, {}),
        (p) => p.Snapshots,
    );

/** Every item of every page, an error naming the subject and the call. */
function everyItem<P, T>(
    subject: string,
    action: string,
    pages: AsyncIterable<P>,
    items: (page: P) => T[] | undefined,
): Promise<T[]> {
    return calling(subject, action, async () => {
        const out: T[] = [];
        for await (const page of pages) out.push(...(items(page) ?? []));
        return out;
    });
}

/** Resource id → its tags, for resources in the bin as well as registered ones (DescribeTags reads both). */
async function tagsByResource(
    ec2: EC2Client,
    filters: { Name: string; Values: string[] }[],
    chunked: string,
): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    const values = filters.find((f) => f.Name === chunked)?.Values ?? [];
    for (const part of chunks(values, VALUES_PER_FILTER)) {
        const Filters = filters.map((f) => (f.Name === chunked ? { Name: f.Name, Values: part } : f));
        const tags = await everyItem(
            "the cleanup's tags",
            "DescribeTags",
            paginateDescribeTags({ client: ec2, pageSize: PAGE }, { Filters }),
            (p) => p.Tags,
        );
        for (const t of tags) {
            const id = t.ResourceId ?? "";
            out.set(id, { ...(out.get(id) ?? {}), [t.Key ?? ""]: t.Value ?? "" });
        }
    }
    return out;
}

/** A registered AMI, disabled ones included, or undefined when EC2 has none by that id. */
async function registered(ec2: EC2Client, imageId: string): Promise<Image | undefined> {
    try {
        const res = await ec2.send(
            new DescribeImagesCommand({ ImageIds: [imageId], Owners: ["self"], IncludeDisabled: true }),
        );
        return res.Images?.[0];
    } catch (err) {
        if (IMAGE_ID_UNKNOWN.has(errorName(err))) return undefined;
        throw err;
    }
}

/**
 * Restores the cleanup's deletions. Per AMI, in this order, so that a run cut anywhere leaves what the next run
 * (or the hourly cleanup) handles: each snapshot is restored, marked restored (so the cleanup never takes it for
 * an unfinished deletion or an orphan) and stripped of the deletion tag; once every snapshot has left
 * `recovering`, the AMI is restored and marked restored (so the cleanup keeps it), enabled if the cleanup had
 * disabled it, and the cleanup's other tags are removed.
 */
export async function restoreDeletions(ec2: EC2Client, opts: RestoreOptions): Promise<RestoreRecord[]> {
    const now = opts.now ?? new Date();
    const log = opts.log ?? silentLog;
    const records: RestoreRecord[] = [];
    let inBin = await binnedImages(ec2, opts.imageIds);
    if (opts.deletedWithinHours !== undefined) {
        const since = now.getTime() - opts.deletedWithinHours * HOUR_MS;
        inBin = inBin.filter((i) => (i.RecycleBinEnterTime?.getTime() ?? 0) >= since);
    }
    const binIds = inBin.map((i) => i.ImageId ?? "");
    // Explicit ids that are not in the bin: restored already, never deleted, or gone for good.
    for (const imageId of (opts.imageIds ?? []).filter((id) => !binIds.includes(id))) {
        const image = await calling(imageId, "DescribeImages", () => registered(ec2, imageId));
        const restoredAt = image ? tagsOf(image)[RESTORED_AT_TAG_KEY] : undefined;
        if (image && restoredAt && isUnfinished(image) && !opts.dryRun) {
            records.push(await finishInterrupted(ec2, image, restoredAt));
            continue;
        }
        records.push(
            !image
                ? {
                      imageId,
                      status: "not-in-bin",
                      snapshotIds: [],
                      detail: "not registered and not in the Recycle Bin: deleted without a retention rule, or its retention ended",
                  }
                : restoredAt
                  ? {
                        imageId,
                        status: "already-restored",
                        snapshotIds: [],
                        detail: `restored at ${restoredAt}`,
                    }
                  : { imageId, status: "not-deleted", snapshotIds: [], detail: `registered, ${image.State}` },
        );
    }
    if (opts.deletedWithinHours !== undefined)
        records.push(...(await restoredSince(ec2, now, opts.deletedWithinHours, opts.dryRun)));
    if (binIds.length === 0) return records;

    const imageTags = await tagsByResource(ec2, [{ Name: "resource-id", Values: binIds }], "resource-id");
    const ours = inBin.filter(
        (i) => imageTags.get(i.ImageId ?? "")?.[DELETING_TAG.Key] === DELETING_TAG.Value,
    );
    for (const i of inBin.filter((x) => !ours.includes(x)))
        records.push({
            imageId: i.ImageId ?? "",
            status: "not-ours",
            snapshotIds: [],
            ...binTimes(i),
            detail: "in the Recycle Bin without the cleanup's deletion tag: someone else deleted it; RestoreImageFromRecycleBin restores it",
        });
    if (ours.length === 0) return records;

    // Each AMI's snapshots: by the tag the cleanup put on them, and by EC2's own description for older deletions.
    const oursIds = ours.map((i) => i.ImageId ?? "");
    const snapshotTags = await tagsByResource(
        ec2,
        [
            { Name: "resource-type", Values: ["snapshot"] },
            { Name: "key", Values: [IMAGE_ID_TAG_KEY] },
            { Name: "value", Values: oursIds },
        ],
        "value",
    );
    const binnedSnaps = await binnedSnapshots(ec2);
    const snapshotsOf = new Map<string, Set<string>>(oursIds.map((id) => [id, new Set<string>()]));
    for (const [snapshotId, tags] of snapshotTags) snapshotsOf.get(tags[IMAGE_ID_TAG_KEY])?.add(snapshotId);
    for (const s of binnedSnaps) {
        const madeFor = MADE_FOR_AMI.exec(s.Description ?? "")?.[1];
        if (madeFor) snapshotsOf.get(madeFor)?.add(s.SnapshotId ?? "");
    }
    const binnedSnapIds = new Set(binnedSnaps.map((s) => s.SnapshotId ?? ""));
    for (const image of ours) {
        const imageId = image.ImageId ?? "";
        const snapshotIds = [...(snapshotsOf.get(imageId) ?? [])].sort();
        const base = { imageId, snapshotIds, ...binTimes(image) };
        try {
            records.push(
                await restoreOne(
                    ec2,
                    { ...base, binned: snapshotIds.filter((s) => binnedSnapIds.has(s)) },
                    opts,
                    now,
                    log,
                ),
            );
        } catch (err) {
            log({ message: "restore failed", imageId, error: `${errorName(err)}: ${errorMessage(err)}` });
            records.push({ ...base, status: "failed", detail: `${errorName(err)}: ${errorMessage(err)}` });
        }
    }
    return records;
}

const isUnfinished = (image: Image) => UNFINISHED.some((key) => tagsOf(image)[key] !== undefined);

const binTimes = (i: ImageRecycleBinInfo) => ({
    ...(i.RecycleBinEnterTime ? { deletedAt: i.RecycleBinEnterTime.toISOString() } : {}),
    ...(i.RecycleBinExitTime ? { binExitsAt: i.RecycleBinExitTime.toISOString() } : {}),
});

/** AMIs an earlier restore brought back within the window: said so, not restored twice. */
async function restoredSince(
    ec2: EC2Client,
    now: Date,
    hours: number,
    dryRun: boolean,
): Promise<RestoreRecord[]> {
    const out: RestoreRecord[] = [];
    const images = await everyItem(
        "restored AMIs",
        "DescribeImages",
        paginateDescribeImages(
            { client: ec2, pageSize: PAGE },
            {
                Owners: ["self"],
                IncludeDisabled: true,
                Filters: [{ Name: "tag-key", Values: [RESTORED_AT_TAG_KEY] }],
            },
        ),
        (p) => p.Images,
    );
    for (const image of images) {
        const at = tagsOf(image)[RESTORED_AT_TAG_KEY] ?? "";
        if (Date.parse(at) < now.getTime() - hours * HOUR_MS) continue;
        if (isUnfinished(image) && !dryRun) out.push(await finishInterrupted(ec2, image, at));
        else
            out.push({
                imageId: image.ImageId ?? "",
                status: "already-restored",
                snapshotIds: [],
                detail: `restored at ${at}`,
            });
    }
    return out;
}

async function restoreOne(
    ec2: EC2Client,
    image: Omit<RestoreRecord, "status"> & { binned: string[] },
    opts: RestoreOptions,
    now: Date,
    log: Log,
): Promise<RestoreRecord> {
    const { imageId, snapshotIds, binned, ...times } = image;
    const record = { imageId, snapshotIds, ...times };
    if (opts.dryRun) {
        // EC2 checks the permission and answers DryRunOperation; nothing changes.
        try {
            await ec2.send(new RestoreImageFromRecycleBinCommand({ ImageId: imageId, DryRun: true }));
        } catch (err) {
            if (errorName(err) !== DRY_RUN) throw err;
        }
        return { ...record, status: "would-restore" };
    }
    // Marked while still in the bin (the bin lets tags change): from the moment anything is registered again, the
    // cleanup keeps it, and never takes a restored snapshot for an unfinished deletion or an orphan.
    const restoredAt = { Key: RESTORED_AT_TAG_KEY, Value: now.toISOString() };
    const marked = [...binned, imageId];
    await calling(imageId, "CreateTags", () =>
        ec2.send(new CreateTagsCommand({ Resources: marked, Tags: [restoredAt] })),
    );
    if (binned.length > 0)
        await calling(imageId, "DeleteTags", () =>
            ec2.send(new DeleteTagsCommand({ Resources: binned, Tags: [{ Key: DELETING_TAG.Key }] })),
        );
    for (const snapshotId of binned) {
        await calling(snapshotId, "RestoreSnapshotFromRecycleBin", () =>
            ec2.send(new RestoreSnapshotFromRecycleBinCommand({ SnapshotId: snapshotId })),
        );
        log({ message: "snapshot restored", imageId, snapshotId });
    }
    await untilCompleted(ec2, imageId, snapshotIds, opts);
    await calling(imageId, "RestoreImageFromRecycleBin", () =>
        ec2.send(new RestoreImageFromRecycleBinCommand({ ImageId: imageId })),
    );
    const reEnabled = await finishRestore(ec2, imageId, snapshotIds);
    log({ message: "restored", imageId, snapshotIds, reEnabled });
    return { ...record, status: "restored", ...(reEnabled ? { reEnabled } : {}) };
}

/** The tags that say a restore has not finished: a registered AMI that still carries them is finished again. */
const UNFINISHED = [DELETING_TAG.Key, IMAGE_ID_TAG_KEY];

/**
 * After the AMI is registered again: enabled if the cleanup had disabled it (whether EC2 brings a disabled AMI
 * back disabled is not documented, so it looks), then the cleanup's tags removed from it and its snapshots, and
 * `restored-at` from the snapshots (the AMI keeps it). Safe to run twice. Says whether it enabled the AMI.
 */
async function finishRestore(ec2: EC2Client, imageId: string, snapshotIds: string[]): Promise<boolean> {
    const back = await calling(imageId, "DescribeImages", () => registered(ec2, imageId));
    const reEnabled = back?.State === "disabled" && tagsOf(back)[DISABLED_AT_TAG_KEY] !== undefined;
    if (reEnabled)
        await calling(imageId, "EnableImage", () => ec2.send(new EnableImageCommand({ ImageId: imageId })));
    const cleanupTags = [...UNFINISHED, DISABLED_AT_TAG_KEY].map((Key) => ({ Key }));
    await calling(imageId, "DeleteTags", () =>
        ec2.send(new DeleteTagsCommand({ Resources: [imageId], Tags: cleanupTags })),
    );
    if (snapshotIds.length > 0)
        await calling(imageId, "DeleteTags", () =>
            ec2.send(
                new DeleteTagsCommand({
                    Resources: snapshotIds,
                    Tags: [...cleanupTags, { Key: RESTORED_AT_TAG_KEY }],
                }),
            ),
        );
    return reEnabled;
}

/** A registered AMI an interrupted restore left with the cleanup's tags: finished now, its snapshots by tag. */
async function finishInterrupted(ec2: EC2Client, image: Image, at: string): Promise<RestoreRecord> {
    const imageId = image.ImageId ?? "";
    const snapshotIds = (image.BlockDeviceMappings ?? [])
        .map((m) => m.Ebs?.SnapshotId)
        .filter((id): id is string => !!id)
        .sort();
    const reEnabled = await finishRestore(ec2, imageId, snapshotIds);
    return {
        imageId,
        status: "restored",
        snapshotIds,
        ...(reEnabled ? { reEnabled } : {}),
        detail: `an earlier restore (at ${at}) was cut short; finished now`,
    };
}

/** Restored snapshots come back `recovering`; EC2 restores an AMI only once they are usable. */
async function untilCompleted(ec2: EC2Client, imageId: string, snapshotIds: string[], opts: RestoreOptions) {
    if (snapshotIds.length === 0) return;
    const deadline = Date.now() + (opts.snapshotWaitMs ?? 15 * 60_000);
    for (;;) {
        const res = await calling(imageId, "DescribeSnapshots", () =>
            ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds })),
        );
        const waiting = (res.Snapshots ?? []).filter((s) => s.State !== "completed").map((s) => s.SnapshotId);
        if (waiting.length === 0) return;
        if (Date.now() >= deadline)
            throw janitorError(
                ErrorNames.transient,
                `snapshots ${waiting.join(", ")} are still ${res.Snapshots?.find((s) => s.State !== "completed")?.State}: run the restore again to finish`,
            );
        await sleep(opts.pollMs ?? 5_000);
    }
}

// Listing: the account's AMIs, read once across every DescribeImages page, split into those to delete and the
// expired ones the guardrails keep. Takes its EC2 client as a parameter.
import {
    type EC2Client,
    type Image,
    paginateDescribeImages,
    paginateDescribeSnapshots,
} from "@aws-sdk/client-ec2";
import { calling } from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { ageHours, isExpired } from "./age";
import type { SnapshotRef } from "./batches";
import { CANDIDATE_STATES, type Candidate, hasKeepTag, type Skipped, selectExpired } from "./selection";
import type { CleanupSettings } from "./settings";
import { DELETING_TAG, RESTORED_AT_TAG_KEY } from "./tags";
import { findImagesInUse, type UsageClients } from "./usage";

/** The compact Map item: small enough that thousands fit in one 256 KiB state payload. */
export interface ImageItem {
    imageId: string;
    name: string;
    creationDate: string;
    snapshotIds: string[];
    /** Sum of the snapshots' volume sizes: what deleting the AMI frees, at most. */
    sizeGiB?: number;
}

/** What deleting an AMI needs: its id and its EBS snapshots, and its size for the report. */
export type ImageRef = Pick<ImageItem, "imageId" | "snapshotIds" | "sizeGiB">;

export interface Listing {
    /** To delete: compact Map items. */
    images: ImageItem[];
    /** Every AMI strictly older than validHours, the kept ones included. */
    expired: ImageItem[];
    /** Expired but kept, with the reason. */
    skipped: Skipped[];
    /** GiB the deletions free, from the snapshots' volume sizes (shared snapshots make it an upper bound). */
    estimatedGiB: number;
    /** Snapshots no AMI uses to delete: deletions an earlier run left unfinished, and (sweep) orphans. */
    strays: SnapshotRef[];
}

const DESCRIBE_PAGE_SIZE = 1000;

/** EBS snapshot ids of an image, in mapping order; instance-store and NoDevice mappings have none. */
export function snapshotIdsOf(image: Pick<Image, "BlockDeviceMappings">): string[] {
    const ids = (image.BlockDeviceMappings ?? [])
        .map((m) => m.Ebs?.SnapshotId)
        .filter((id): id is string => !!id);
    return [...new Set(ids)];
}

/** Sum of the volume sizes of the image's EBS snapshot mappings. */
export function snapshotSizeGiB(image: Pick<Image, "BlockDeviceMappings">): number {
    return (image.BlockDeviceMappings ?? []).reduce(
        (sum, m) => sum + (m.Ebs?.SnapshotId ? (m.Ebs.VolumeSize ?? 0) : 0),
        0,
    );
}

/** An image's tags as a plain record. */
export const tagsOf = (image: { Tags?: { Key?: string; Value?: string }[] }): Record<string, string> =>
    Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));

/** What the guardrails need of an image, as DescribeImages describes it. */
export function candidateOf(image: Image): Omit<Candidate, "imageId" | "name" | "creationDate"> {
    return {
        state: image.State ?? "",
        tags: tagsOf(image),
        snapshotIds: snapshotIdsOf(image),
        sizeGiB: snapshotSizeGiB(image),
        public: image.Public === true,
        // Any value but "disabled" (enabled, enabled-with-cooldown, or one EC2 adds later) protects it.
        protected: (image.DeregistrationProtection ?? "disabled") !== "disabled",
        ...(image.LastLaunchedTime ? { lastLaunchedTime: image.LastLaunchedTime } : {}),
    };
}

/** What one DescribeImages listing of the account tells: the candidates, and what every AMI of it uses. */
export interface Account {
    candidates: Candidate[];
    /** Every AMI the account owns, whatever its state. */
    imageIds: Set<string>;
    /** Every snapshot an AMI of the account uses, whatever its state. */
    snapshotsInUse: Set<string>;
}

/**
 * The account's own AMIs that may be deleted, across every DescribeImages page: available and disabled ones
 * (disabled AMIs are listed only when asked; an owner's deprecated AMIs always are). Pending, failed and error
 * AMIs are never candidates, but their snapshots are in use all the same.
 */
export async function listAccount(ec2: EC2Client, log: Log = silentLog): Promise<Account> {
    const account: Account = { candidates: [], imageIds: new Set(), snapshotsInUse: new Set() };
    const pages = paginateDescribeImages(
        { client: ec2, pageSize: DESCRIBE_PAGE_SIZE },
        { Owners: ["self"], IncludeDisabled: true },
    );
    await calling("listing the account's AMIs", "DescribeImages", async () => {
        for await (const page of pages) for (const image of page.Images ?? []) add(account, image, log);
    });
    return account;
}

function add(account: Account, image: Image, log: Log) {
    const imageId = image.ImageId ?? "";
    // EC2 does not promise consistent pages while images change: an AMI two pages return counts once, or
    // keepLatest would give it two of a group's places.
    if (!imageId || account.imageIds.has(imageId)) return;
    account.imageIds.add(imageId);
    for (const s of snapshotIdsOf(image)) account.snapshotsInUse.add(s);
    if (!CANDIDATE_STATES.has(image.State ?? "")) return;
    const creationDate = image.CreationDate ?? "";
    if (Number.isNaN(Date.parse(creationDate))) {
        log({ message: "keep", imageId, reason: "unreadable-creation-date", creationDate });
        return;
    }
    account.candidates.push({ imageId, name: image.Name ?? "", creationDate, ...candidateOf(image) });
}

/** EC2's description of a snapshot CreateImage made (EC2 user guide, "Create an AMI from an instance"). */
export const MADE_FOR_AMI = /^Created by CreateImage\(i-[0-9a-f]+\) for (ami-[0-9a-f]+)/;

/**
 * Snapshots no AMI uses that the cleanup should delete: those it tagged as being deleted (a deletion an earlier
 * run started and did not finish), and with `sweepOrphanSnapshots` those EC2 made for an AMI that no longer
 * exists, older than validHours, not kept by the keep tag.
 */
async function findStrays(
    ec2: EC2Client,
    account: Account,
    settings: CleanupSettings,
    now: Date,
    log: Log,
): Promise<SnapshotRef[]> {
    const strays: SnapshotRef[] = [];
    const filters = settings.sweepOrphanSnapshots ? [] : [{ Name: "tag-key", Values: [DELETING_TAG.Key] }];
    const pages = paginateDescribeSnapshots(
        { client: ec2, pageSize: DESCRIBE_PAGE_SIZE },
        { OwnerIds: ["self"], ...(filters.length ? { Filters: filters } : {}) },
    );
    await calling("finding unfinished deletions", "DescribeSnapshots", async () => {
        for await (const page of pages) {
            for (const snap of page.Snapshots ?? []) {
                const snapshotId = snap.SnapshotId ?? "";
                if (!snapshotId || account.snapshotsInUse.has(snapshotId)) continue;
                const tags = tagsOf(snap);
                // What `npm run restore` brought back is never a stray, even before its AMI is back.
                if (tags[RESTORED_AT_TAG_KEY] !== undefined) continue;
                if (tags[DELETING_TAG.Key] === DELETING_TAG.Value) {
                    log({ message: "unfinished deletion", snapshotId });
                    strays.push({ snapshotId, reason: "unfinished", sizeGiB: snap.VolumeSize ?? 0 });
                    continue;
                }
                const madeFor = MADE_FOR_AMI.exec(snap.Description ?? "")?.[1];
                const age = snap.StartTime ? (now.getTime() - snap.StartTime.getTime()) / 3_600_000 : 0;
                if (
                    settings.sweepOrphanSnapshots &&
                    madeFor &&
                    !account.imageIds.has(madeFor) &&
                    snap.State === "completed" &&
                    age > settings.validHours &&
                    !hasKeepTag(tags, settings.keepTagKey)
                ) {
                    log({ message: "orphaned snapshot", snapshotId, madeFor });
                    strays.push({
                        snapshotId,
                        reason: `orphan of ${madeFor}`,
                        sizeGiB: snap.VolumeSize ?? 0,
                    });
                }
            }
        }
    });
    return strays;
}

export interface ListingOptions {
    /** A listing of the account already made (a later page of the same run); by default the account is listed. */
    account?: Account;
    /** Look for unfinished deletions and orphans too. Defaults to true; only a run's first page deletes them. */
    strays?: boolean;
}

/**
 * Every self-owned candidate AMI strictly older than validHours that no guardrail keeps. The kept ones come back
 * in `skipped` with their reason. What uses the AMIs is always looked up afresh.
 */
export async function listExpiredImages(
    clients: UsageClients,
    settings: CleanupSettings,
    now: Date,
    log: Log = silentLog,
    opts: ListingOptions = {},
): Promise<Listing> {
    const account = opts.account ?? (await listAccount(clients.ec2, log));
    const { candidates } = account;
    const expired = candidates.filter((c) => isExpired(c.creationDate, settings.validHours, now));
    // What uses the AMIs is only looked up when there is something it could protect.
    const usage =
        settings.protectInUse && expired.length > 0 ? await findImagesInUse(clients, settings) : undefined;
    const { toDelete, skipped } = selectExpired(expired, candidates, settings, now, usage);
    for (const k of skipped) log({ message: "keep", imageId: k.imageId, reason: k.reason });
    const item = ({ imageId, name, creationDate, snapshotIds, sizeGiB }: Candidate): ImageItem => ({
        imageId,
        name,
        creationDate,
        snapshotIds,
        sizeGiB,
    });
    const images = toDelete.map((c) => {
        const age = Math.floor(ageHours(c.creationDate, now));
        log({ message: "expired", imageId: c.imageId, ageHours: age, validHours: settings.validHours });
        return item(c);
    });
    const estimatedGiB = toDelete.reduce((sum, c) => sum + c.sizeGiB, 0);
    const strays = opts.strays === false ? [] : await findStrays(clients.ec2, account, settings, now, log);
    return { images, expired: expired.map(item), skipped, estimatedGiB, strays };
}

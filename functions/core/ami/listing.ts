// Listing: the account's AMIs, read once across every DescribeImages page, split into those to delete and the
// expired ones the guardrails keep. Takes its EC2 client as a parameter.
import { type EC2Client, type Image, paginateDescribeImages } from "@aws-sdk/client-ec2";
import { calling } from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { ageHours, isExpired } from "./age";
import { CANDIDATE_STATES, type Candidate, type Skipped, selectExpired } from "./selection";
import type { CleanupSettings } from "./settings";
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

/** What deleting an AMI needs: its id and its EBS snapshots. */
export type ImageRef = Pick<ImageItem, "imageId" | "snapshotIds">;

export interface Listing {
    /** To delete: compact Map items. */
    images: ImageItem[];
    /** Every AMI strictly older than validHours, the kept ones included. */
    expired: ImageItem[];
    /** Expired but kept, with the reason. */
    skipped: Skipped[];
    /** GiB the deletions free, from the snapshots' volume sizes (shared snapshots make it an upper bound). */
    estimatedGiB: number;
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
export const tagsOf = (image: Pick<Image, "Tags">): Record<string, string> =>
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

/**
 * The account's own AMIs that may be deleted, across every DescribeImages page: available and disabled ones
 * (disabled AMIs are listed only when asked; an owner's deprecated AMIs always are). Pending, failed and error
 * AMIs are never candidates.
 */
async function listCandidates(ec2: EC2Client, log: Log): Promise<Candidate[]> {
    const candidates: Candidate[] = [];
    const pages = paginateDescribeImages(
        { client: ec2, pageSize: DESCRIBE_PAGE_SIZE },
        { Owners: ["self"], IncludeDisabled: true },
    );
    await calling("listing the account's AMIs", "DescribeImages", () => collect(pages, log, candidates));
    return candidates;
}

async function collect(pages: AsyncIterable<{ Images?: Image[] }>, log: Log, candidates: Candidate[]) {
    for await (const page of pages) {
        for (const image of page.Images ?? []) {
            const imageId = image.ImageId ?? "";
            if (!imageId || !CANDIDATE_STATES.has(image.State ?? "")) continue;
            const creationDate = image.CreationDate ?? "";
            if (Number.isNaN(Date.parse(creationDate))) {
                log({ message: "keep", imageId, reason: "unreadable-creation-date", creationDate });
                continue;
            }
            candidates.push({ imageId, name: image.Name ?? "", creationDate, ...candidateOf(image) });
        }
    }
}

/**
 * Every self-owned candidate AMI strictly older than validHours that no guardrail keeps. The kept ones come back
 * in `skipped` with their reason.
 */
export async function listExpiredImages(
    clients: UsageClients,
    settings: CleanupSettings,
    now: Date,
    log: Log = silentLog,
): Promise<Listing> {
    const candidates = await listCandidates(clients.ec2, log);
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
    return { images, expired: expired.map(item), skipped, estimatedGiB };
}

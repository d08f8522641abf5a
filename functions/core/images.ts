// AMI cleanup core: list expired images, deregister one, delete its snapshots. Takes its EC2 client as a parameter.
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    type DeregisterImageCommandOutput,
    DescribeLaunchTemplateVersionsCommand,
    type EC2Client,
    type Image,
    paginateDescribeImages,
    paginateDescribeInstances,
    paginateDescribeLaunchTemplates,
} from "@aws-sdk/client-ec2";
import { ageHours, isExpired } from "./age";
import { ErrorNames, errorMessage, errorName, JanitorError, wrapAwsError } from "./errors";
import { type Log, silentLog } from "./log";
import { type Candidate, type Guardrails, type Skipped, selectExpired, type Usage } from "./selection";

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

export interface ListOptions extends Guardrails {
    now: Date;
    /** Keep AMIs that a not-terminated instance runs or a launch template's default or latest version names. */
    protectInUse: boolean;
}

export interface Listing {
    /** To delete: compact Map items. */
    images: ImageItem[];
    /** Expired but kept, with the reason. */
    skipped: Skipped[];
    /** GiB the deletions free, from the snapshots' volume sizes (shared snapshots make it an upper bound). */
    estimatedGiB: number;
}

export const DEFAULT_KEEP_TAG_KEY = "image-janitor:keep";

/** The account's available AMIs, across every DescribeImages page, with what the guardrails need. */
async function listCandidates(ec2: EC2Client, log: Log): Promise<Candidate[]> {
    const candidates: Candidate[] = [];
    const pages = paginateDescribeImages(
        { client: ec2, pageSize: DESCRIBE_PAGE_SIZE },
        { Owners: ["self"], Filters: [{ Name: "state", Values: ["available"] }] },
    );
    for await (const page of pages) {
        for (const image of page.Images ?? []) {
            const imageId = image.ImageId ?? "";
            // The filter already asks for available images; checked again because deleting is irreversible.
            if (!imageId || image.State !== "available") continue;
            const creationDate = image.CreationDate ?? "";
            if (Number.isNaN(Date.parse(creationDate))) {
                log({ message: "keep", imageId, reason: "unreadable-creation-date", creationDate });
                continue;
            }
            const tags = Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
            candidates.push({
                imageId,
                name: image.Name ?? "",
                creationDate,
                tags,
                snapshotIds: snapshotIdsOf(image),
                sizeGiB: snapshotSizeGiB(image),
            });
        }
    }
    return candidates;
}

const LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];

/** AMIs that a not-terminated instance runs, or that a launch template's default or latest version names. */
export async function findImagesInUse(ec2: EC2Client): Promise<Usage> {
    const usage: Usage = { instances: new Map(), launchTemplates: new Map() };
    const reservations = paginateDescribeInstances(
        { client: ec2, pageSize: DESCRIBE_PAGE_SIZE },
        { Filters: [{ Name: "instance-state-name", Values: LIVE_INSTANCE_STATES }] },
    );
    for await (const page of reservations) {
        for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
            if (instance.ImageId && instance.InstanceId && !usage.instances.has(instance.ImageId)) {
                usage.instances.set(instance.ImageId, instance.InstanceId);
            }
        }
    }
    for await (const page of paginateDescribeLaunchTemplates({ client: ec2, pageSize: 200 }, {})) {
        for (const template of page.LaunchTemplates ?? []) {
            const id = template.LaunchTemplateId ?? "";
            const versions = await ec2.send(
                new DescribeLaunchTemplateVersionsCommand({
                    LaunchTemplateId: id,
                    Versions: ["$Default", "$Latest"],
                }),
            );
            for (const v of versions.LaunchTemplateVersions ?? []) {
                const imageId = v.LaunchTemplateData?.ImageId;
                if (imageId?.startsWith("ami-") && !usage.launchTemplates.has(imageId))
                    usage.launchTemplates.set(imageId, id);
            }
        }
    }
    return usage;
}

/**
 * Every available, self-owned AMI strictly older than validHours that no guardrail keeps. The kept ones come back
 * in `skipped` with their reason.
 */
export async function listExpiredImages(
    ec2: EC2Client,
    opts: ListOptions,
    log: Log = silentLog,
): Promise<Listing> {
    const candidates = await listCandidates(ec2, log);
    // Instances and launch templates are only read when there is something they could protect.
    const anyExpired = candidates.some((c) => isExpired(c.creationDate, opts.validHours, opts.now));
    const usage = opts.protectInUse && anyExpired ? await findImagesInUse(ec2) : undefined;
    const { expired, skipped } = selectExpired(candidates, opts, opts.now, usage);
    for (const k of skipped) log({ message: "keep", imageId: k.imageId, reason: k.reason });
    const images = expired.map(({ imageId, name, creationDate, snapshotIds, sizeGiB }) => {
        log({
            message: "expired",
            imageId,
            ageHours: Math.floor(ageHours(creationDate, opts.now)),
            validHours: opts.validHours,
        });
        return { imageId, name, creationDate, snapshotIds, sizeGiB: sizeGiB ?? 0 };
    });
    const estimatedGiB = expired.reduce((sum, c) => sum + (c.sizeGiB ?? 0), 0);
    return { images, skipped, estimatedGiB };
}

const GONE_IMAGE = new Set(["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"]);
const GONE_SNAPSHOT = new Set(["InvalidSnapshot.NotFound"]);
/** How EC2 (or an older endpoint) refuses a parameter it does not know. */
const NO_DELETE_ASSOCIATED = new Set([
    "InvalidParameter",
    "InvalidParameterValue",
    "UnknownParameter",
    "InvalidParameterCombination",
]);

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
                !NO_DELETE_ASSOCIATED.has(errorName(err)) ||
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
        if (input.dryRun && name === "DryRunOperation") {
            log({ message: "would deregister", imageId });
            return { imageId, outcome: "dry-run" };
        }
        if (GONE_IMAGE.has(name)) {
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
    const failures: JanitorError[] = [];
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
            if (input.dryRun && name === "DryRunOperation") {
                result.deleted.push(snapshotId);
                log({ message: "would delete snapshot", imageId, snapshotId });
            } else if (GONE_SNAPSHOT.has(name)) {
                result.alreadyGone.push(snapshotId);
                log({ message: "snapshot already gone", imageId, snapshotId });
            } else if (name === "InvalidSnapshot.InUse") {
                const user = IN_USE_BY.exec(errorMessage(err))?.[1];
                if (user === imageId && input.dryRun) {
                    // In a dry run the AMI is still registered; the real run deregisters it first.
                    result.deleted.push(snapshotId);
                    log({ message: "would delete snapshot", imageId, snapshotId });
                } else if (user === imageId) {
                    // EC2 releases a just-deregistered AMI's snapshots shortly after; the state retries.
                    failures.push(
                        new JanitorError(
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
        const name = names.size === 1 ? failures[0].name : ErrorNames.awsError;
        throw new JanitorError(name, failures.map((f) => f.message).join("; "));
    }
    return result;
}

// Lambda event handling over the core: validates each event, then calls the core with the caller's client.
// The Lambda entries and the local runner both build their handlers here, so they parse events identically.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { invalidInput } from "./errors";
import {
    type ActionInput,
    type DeleteSnapshotsResult,
    type DeregisterResult,
    deleteSnapshots,
    deregisterImage,
    type ImageItem,
    listExpiredImages,
} from "./images";
import { consoleLog, type Log } from "./log";
import { validHours } from "./validate";

export interface ListEvent {
    valid_hours: number;
}

export interface HandlerOptions {
    log?: Log;
    now?: () => Date;
}

const IMAGE_ID = /^ami-[0-9a-z]+$/;
const SNAPSHOT_ID = /^snap-[0-9a-z]+$/;

function parseActionInput(event: unknown): ActionInput {
    const e = (event ?? {}) as { image?: Partial<ImageItem>; dryRun?: unknown };
    const image = e.image;
    if (!image || typeof image !== "object")
        throw invalidInput("image", image, "an object with imageId and snapshotIds");
    if (typeof image.imageId !== "string" || !IMAGE_ID.test(image.imageId)) {
        throw invalidInput("image.imageId", image.imageId, "an AMI id like ami-0123456789abcdef0");
    }
    const snapshotIds = image.snapshotIds;
    if (
        !Array.isArray(snapshotIds) ||
        snapshotIds.some((s) => typeof s !== "string" || !SNAPSHOT_ID.test(s))
    ) {
        throw invalidInput(
            "image.snapshotIds",
            snapshotIds,
            "a list of snapshot ids like snap-0123456789abcdef0",
        );
    }
    if (e.dryRun !== undefined && typeof e.dryRun !== "boolean")
        throw invalidInput("dryRun", e.dryRun, "true or false");
    return {
        image: {
            imageId: image.imageId,
            name: String(image.name ?? ""),
            creationDate: String(image.creationDate ?? ""),
            snapshotIds,
        },
        dryRun: e.dryRun === true,
    };
}

export function listExpiredImagesHandler(ec2: EC2Client, opts: HandlerOptions = {}) {
    const { log = consoleLog, now = () => new Date() } = opts;
    return async (event: ListEvent): Promise<ImageItem[]> =>
        listExpiredImages(
            ec2,
            { validHours: validHours(event?.valid_hours, "valid_hours"), now: now() },
            log,
        );
}

export function deregisterImageHandler(ec2: EC2Client, opts: HandlerOptions = {}) {
    const { log = consoleLog } = opts;
    return async (event: unknown): Promise<DeregisterResult> =>
        deregisterImage(ec2, parseActionInput(event), log);
}

export function deleteSnapshotsHandler(ec2: EC2Client, opts: HandlerOptions = {}) {
    const { log = consoleLog } = opts;
    return async (event: unknown): Promise<DeleteSnapshotsResult> =>
        deleteSnapshots(ec2, parseActionInput(event), log);
}

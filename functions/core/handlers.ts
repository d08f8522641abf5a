// Lambda event handling over the core: validates each event, then calls the core with the caller's client.
// The Lambda entries and the local runner both build their handlers here, so they parse events identically.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { invalidInput } from "./errors";
import {
    type ActionInput,
    DEFAULT_KEEP_TAG_KEY,
    type DeleteSnapshotsResult,
    type DeregisterResult,
    deleteSnapshots,
    deregisterImage,
    type ImageItem,
    type Listing,
    type ListOptions,
    listExpiredImages,
} from "./images";
import { consoleLog, type Log } from "./log";
import { boolean, validHours, wholeNumber } from "./validate";

export interface ListEvent {
    valid_hours: number;
    /** Defaults to `image-janitor:keep`. */
    keep_tag_key?: string;
    /** Defaults to 0 (off). */
    keep_latest?: number;
    group_by_tag?: string;
    /** Defaults to true. */
    protect_in_use?: boolean;
}

const TAG_KEY = /^.{1,128}$/s;

export interface GuardrailSettings {
    keepTagKey: string;
    keepLatest: number;
    groupByTag?: string;
    protectInUse: boolean;
}

export type GuardrailNames = Record<keyof GuardrailSettings, string>;

/** The Lambda event's names for the guardrails. */
export const EVENT_NAMES: GuardrailNames = {
    keepTagKey: "keep_tag_key",
    keepLatest: "keep_latest",
    groupByTag: "group_by_tag",
    protectInUse: "protect_in_use",
};

/**
 * Validates and defaults the guardrails. Config, runner flags and the Lambda event share this check; `names` is
 * what each calls the settings, so an error names the key the user wrote.
 */
export function parseGuardrails(
    raw: Partial<Record<keyof GuardrailSettings, unknown>>,
    names: GuardrailNames,
): GuardrailSettings {
    const tagKey = (key: string, v: unknown) => {
        if (typeof v !== "string" || !TAG_KEY.test(v) || v.startsWith("aws:")) {
            throw invalidInput(key, v, "a tag key of 1 to 128 characters, not starting with aws:");
        }
        return v;
    };
    return {
        keepTagKey:
            raw.keepTagKey === undefined ? DEFAULT_KEEP_TAG_KEY : tagKey(names.keepTagKey, raw.keepTagKey),
        keepLatest: raw.keepLatest === undefined ? 0 : wholeNumber(names.keepLatest, raw.keepLatest, 0, 1000),
        ...(raw.groupByTag === undefined || raw.groupByTag === ""
            ? {}
            : { groupByTag: tagKey(names.groupByTag, raw.groupByTag) }),
        protectInUse: raw.protectInUse === undefined ? true : boolean(names.protectInUse, raw.protectInUse),
    };
}

/** The listing's options from the list task's event, every guardrail validated and defaulted. */
export function parseListEvent(event: ListEvent, now: Date): ListOptions {
    const e = event ?? ({} as ListEvent);
    const raw = {
        keepTagKey: e.keep_tag_key,
        keepLatest: e.keep_latest,
        groupByTag: e.group_by_tag,
        protectInUse: e.protect_in_use,
    };
    return {
        now,
        validHours: validHours(e.valid_hours, "valid_hours"),
        ...parseGuardrails(raw, EVENT_NAMES),
    };
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
    return async (event: ListEvent): Promise<Listing> =>
        listExpiredImages(ec2, parseListEvent(event, now()), log);
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

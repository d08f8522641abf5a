// Lambda event handling over the core: validates each event, then calls the core with the caller's client.
// The Lambda entries and the local runner both build their handlers here, so they parse events identically.
import type { EC2Client } from "@aws-sdk/client-ec2";
import {
    BATCH_SIZE,
    type BatchSummary,
    type DeregisteredImage,
    deleteBatchSnapshots,
    deregisterBatch,
    type ImageRecord,
    summarizeBatch,
} from "./batches";
import { invalidInput } from "./errors";
import {
    DEFAULT_KEEP_TAG_KEY,
    type ImageRef,
    type Listing,
    type ListOptions,
    listExpiredImages,
} from "./images";
import { consoleLog, type Log } from "./log";
import { type Page, pageOf } from "./pages";
import type { Backoff, PoolOptions } from "./pool";
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
    /** The page starts after this AMI id; "" or absent for the first page. */
    after?: string;
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
    /** Backoff for throttled calls; the benchmark scales it with its simulated clock. */
    backoff?: Backoff;
    sleep?: (ms: number) => Promise<void>;
}

/** The part of Lambda's context the batch handlers use: how long this invocation has left. */
export interface InvocationContext {
    getRemainingTimeInMillis?: () => number;
}

/** EC2 calls one batch invocation keeps in flight unless the event says otherwise. */
export const DEFAULT_CALLS_IN_FLIGHT = 4;
const MAX_BATCH = 2 * BATCH_SIZE;
const IMAGE_ID = /^ami-[0-9a-z]+$/;
const SNAPSHOT_ID = /^snap-[0-9a-z]+$/;

function parseImageRef(value: unknown, key: string): ImageRef {
    const image = value as Partial<ImageRef> | undefined;
    if (!image || typeof image !== "object")
        throw invalidInput(key, image, "an object with imageId and snapshotIds");
    if (typeof image.imageId !== "string" || !IMAGE_ID.test(image.imageId)) {
        throw invalidInput(`${key}.imageId`, image.imageId, "an AMI id like ami-0123456789abcdef0");
    }
    const snapshotIds = image.snapshotIds;
    if (
        !Array.isArray(snapshotIds) ||
        snapshotIds.some((s) => typeof s !== "string" || !SNAPSHOT_ID.test(s))
    ) {
        throw invalidInput(
            `${key}.snapshotIds`,
            snapshotIds,
            "a list of snapshot ids like snap-0123456789abcdef0",
        );
    }
    return { imageId: image.imageId, snapshotIds };
}

function parseImages(value: unknown, key: string): ImageRef[] {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_BATCH) {
        throw invalidInput(key, value, `a list of 1 to ${MAX_BATCH} images`);
    }
    return value.map((v, i) => parseImageRef(v, `${key}[${i}]`));
}

function parseDryRun(value: unknown): boolean {
    if (value !== undefined && typeof value !== "boolean")
        throw invalidInput("dryRun", value, "true or false");
    return value === true;
}

function poolOptions(
    event: { concurrency?: unknown },
    context: InvocationContext | undefined,
    opts: HandlerOptions,
): PoolOptions {
    const remaining = context?.getRemainingTimeInMillis;
    return {
        concurrency:
            event.concurrency === undefined
                ? DEFAULT_CALLS_IN_FLIGHT
                : wholeNumber("concurrency", event.concurrency, 1, 20),
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        ...(opts.sleep ? { sleep: opts.sleep } : {}),
        ...(remaining ? { timeLeftMs: () => remaining.call(context) } : {}),
    };
}

/** The list task's handler: lists once, answers with the page after the event's cursor. */
export function listExpiredImagesHandler(
    ec2: EC2Client,
    opts: HandlerOptions & { onListing?: (listing: Listing) => void } = {},
) {
    const { log = consoleLog, now = () => new Date() } = opts;
    return async (event: ListEvent): Promise<Page> => {
        const options = parseListEvent(event, now());
        const after = parseCursor(event?.after);
        const listing = await listExpiredImages(ec2, options, log);
        opts.onListing?.(listing);
        return pageOf(listing, after);
    };
}

function parseCursor(value: unknown): string {
    if (value === undefined || value === "") return "";
    if (typeof value !== "string" || !IMAGE_ID.test(value))
        throw invalidInput("after", value, 'an AMI id, or "" for the first page');
    return value;
}

export interface DeregisterEvent {
    images: ImageRef[];
    dryRun?: boolean;
    keep_tag_key?: string;
    concurrency?: number;
}

export function deregisterBatchHandler(ec2: EC2Client, opts: HandlerOptions = {}) {
    const { log = consoleLog } = opts;
    return async (
        event: DeregisterEvent,
        context?: InvocationContext,
    ): Promise<{ images: DeregisteredImage[] }> => {
        const e = event ?? ({} as DeregisterEvent);
        const images = parseImages(e.images, "images");
        const { keepTagKey } = parseGuardrails({ keepTagKey: e.keep_tag_key }, EVENT_NAMES);
        const batch = { images, dryRun: parseDryRun(e.dryRun), keepTagKey };
        return { images: await deregisterBatch(ec2, batch, poolOptions(e, context, opts), log) };
    };
}

export interface DeleteSnapshotsEvent {
    deregistered: { images: DeregisteredImage[] };
    dryRun?: boolean;
    concurrency?: number;
}

const OUTCOMES = new Set(["deregistered", "already-gone", "dry-run", "kept", "failed"]);

function parseDeregistered(value: unknown): DeregisteredImage[] {
    const images = (value as { images?: unknown } | undefined)?.images;
    const refs = parseImages(images, "deregistered.images");
    return refs.map((ref, i) => {
        const raw = (images as Partial<DeregisteredImage>[])[i];
        if (typeof raw.outcome !== "string" || !OUTCOMES.has(raw.outcome)) {
            throw invalidInput(`deregistered.images[${i}].outcome`, raw.outcome, [...OUTCOMES].join(", "));
        }
        const withImage = raw.deletedWithImage;
        return {
            ...ref,
            outcome: raw.outcome,
            ...(Array.isArray(withImage)
                ? { deletedWithImage: withImage.filter((s) => SNAPSHOT_ID.test(s)) }
                : {}),
            ...(raw.reason ? { reason: String(raw.reason) } : {}),
            ...(raw.error ? { error: String(raw.error) } : {}),
        };
    });
}

export interface SnapshotsBatchResult {
    summary: BatchSummary;
    images: ImageRecord[];
}

export function deleteSnapshotsBatchHandler(ec2: EC2Client, opts: HandlerOptions = {}) {
    const { log = consoleLog } = opts;
    return async (
        event: DeleteSnapshotsEvent,
        context?: InvocationContext,
    ): Promise<SnapshotsBatchResult> => {
        const e = event ?? ({} as DeleteSnapshotsEvent);
        const images = parseDeregistered(e.deregistered);
        const records = await deleteBatchSnapshots(
            ec2,
            images,
            parseDryRun(e.dryRun),
            poolOptions(e, context, opts),
            log,
        );
        return { summary: summarizeBatch(records), images: records };
    };
}

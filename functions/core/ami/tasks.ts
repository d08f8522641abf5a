// The state machine's three Lambda tasks: each checks its event, then calls the core with the caller's client.
// The Lambda entries and the local runner both build their handlers here, so they read events identically.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { invalidInput } from "../shared/errors";
import { consoleLog, type Log } from "../shared/log";
import type { Pacer } from "../shared/pacing";
import {
    BATCH_SIZE,
    type BatchSummary,
    type DeregisteredImage,
    deleteBatchSnapshots,
    deregisterBatch,
    type ImageRecord,
    type SnapshotRecord,
    type SnapshotRef,
    summarizeBatch,
} from "./batches";
import { type Account, type ImageRef, type Listing, listAccount, listExpiredImages } from "./listing";
import { type Page, pageOf } from "./pages";
import type { Backoff, PoolOptions } from "./pool";
import { fillListingGaps } from "./recheck";
import { type CleanupSettings, parseSettings } from "./settings";
import type { UsageClients } from "./usage";

/** Every task's event carries the whole settings object, in the settings' own names. */
export interface SettingsEvent {
    settings: CleanupSettings;
}

export interface ListEvent extends SettingsEvent {
    /** The page starts after this AMI id; "" or absent for the first page. */
    after?: string;
    /** The run's first execution: later pages of the same run may reuse its listing of the account. */
    run?: string;
    /**
     * List the account again for the run's next page and answer with how many AMIs it holds, not with a page:
     * the state machine asks while the current page deletes, so the next page does not wait for its listing.
     */
    refresh?: boolean;
}

/** What a refresh answers: small, since the state machine discards it. */
export interface RefreshResult {
    refreshed: {
        images: number;
        listedAt: string;
        /**
         * Made and kept for the next page: only where the run's earlier listing is at hand to check it against
         * (the container that listed before); elsewhere nothing is listed and `images` is 0.
         */
        kept: boolean;
        /** AMIs of the pages to come the new listing lacked, and how many of them EC2 still describes. */
        missing: number;
        restored: number;
    };
}

/** A page, and whether the state machine should list the account again while this page deletes. */
export interface ListedPage extends Page {
    refreshDue: boolean;
}

export interface DeregisterEvent extends SettingsEvent {
    images: ImageRef[];
}

export interface DeleteSnapshotsEvent extends SettingsEvent {
    deregistered: { images: DeregisteredImage[] };
    /** Unfinished and orphaned snapshots the batch carries. */
    snapshots?: SnapshotRef[];
}

export interface HandlerOptions {
    log?: Log;
    now?: () => Date;
    /** Backoff for throttled calls; the benchmark scales it with its simulated clock. */
    backoff?: Backoff;
    sleep?: (ms: number) => Promise<void>;
    /**
     * The pacer in front of this function's EC2 client, where the client serves one batch at a time (a Lambda
     * container): each invocation gives it 1/maxConcurrency of EC2's rates, since that many batches run at once.
     */
    pacer?: Pacer;
}

/** The part of Lambda's context the batch handlers use: how long this invocation has left. */
export interface InvocationContext {
    getRemainingTimeInMillis?: () => number;
}

const MAX_BATCH = 2 * BATCH_SIZE;
export const IMAGE_ID = /^ami-[0-9a-z]+$/;
const SNAPSHOT_ID = /^snap-[0-9a-z]+$/;

/** The event's settings, checked as config and flags are; a key that is not a setting is refused. */
export function eventSettings(event: unknown): CleanupSettings {
    const raw = (event as { settings?: unknown } | undefined)?.settings;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
        throw invalidInput("settings", raw, "an object of cleanup settings");
    }
    return parseSettings(raw as Record<string, unknown>, {
        nameOf: (key) => `settings.${key}`,
        required: ["validHours"],
        strict: true,
    });
}

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
    return { imageId: image.imageId, snapshotIds, ...sizeOf(image.sizeGiB, `${key}.sizeGiB`) };
}

/** A size in GiB, when the event gives one: it only feeds the report. */
function sizeOf(value: unknown, key: string): { sizeGiB?: number } {
    if (value === undefined) return {};
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
        throw invalidInput(key, value, "a size in GiB, 0 or more");
    return { sizeGiB: value };
}

/** A batch's AMIs: none for a batch of snapshots only. */
function parseImages(value: unknown, key: string): ImageRef[] {
    if (!Array.isArray(value) || value.length > MAX_BATCH) {
        throw invalidInput(key, value, `a list of 0 to ${MAX_BATCH} images`);
    }
    return value.map((v, i) => parseImageRef(v, `${key}[${i}]`));
}

function parseSnapshotRefs(value: unknown, key: string): SnapshotRef[] {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.length > MAX_BATCH) {
        throw invalidInput(key, value, `a list of 0 to ${MAX_BATCH} snapshots`);
    }
    return value.map((v, i) => {
        const ref = v as Partial<SnapshotRef> | undefined;
        if (!ref || typeof ref.snapshotId !== "string" || !SNAPSHOT_ID.test(ref.snapshotId))
            throw invalidInput(
                `${key}[${i}].snapshotId`,
                ref?.snapshotId,
                "a snapshot id like snap-0123456789abcdef0",
            );
        return {
            snapshotId: ref.snapshotId,
            reason: String(ref.reason ?? ""),
            ...sizeOf(ref.sizeGiB, `${key}[${i}].sizeGiB`),
        };
    });
}

function poolOptions(
    settings: CleanupSettings,
    context: InvocationContext | undefined,
    opts: HandlerOptions,
): PoolOptions {
    const remaining = context?.getRemainingTimeInMillis;
    opts.pacer?.divideAmong(settings.maxConcurrency);
    return {
        concurrency: settings.callsPerBatch,
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        ...(opts.sleep ? { sleep: opts.sleep } : {}),
        ...(remaining ? { timeLeftMs: () => remaining.call(context) } : {}),
    };
}

function parseCursor(value: unknown): string {
    if (value === undefined || value === "") return "";
    if (typeof value !== "string" || !IMAGE_ID.test(value))
        throw invalidInput("after", value, 'an AMI id, or "" for the first page');
    return value;
}

function parseRun(value: unknown): string {
    if (value === undefined || value === "") return "";
    if (typeof value !== "string" || value.length > 2048)
        throw invalidInput("run", value, "the id of the run's first execution");
    return value;
}

/**
 * A later page of the same run reuses the run's listing of the account while it is younger than this; what
 * uses the AMIs is looked up again for every page, and each AMI is described again just before its batch.
 */
export const LISTING_REUSE_MS = 60 * 60_000;

/**
 * A page whose listing is older than LISTING_REUSE_MS less this asks for a fresh one while it deletes, so the
 * next page finds a listing younger than LISTING_REUSE_MS without waiting: a page of 2,000 AMIs at EC2's 5
 * DeregisterImage calls a second takes about 7 minutes, and listing 50,000 AMIs about 2.
 */
export const REFRESH_AHEAD_MS = 15 * 60_000;

function parseRefresh(value: unknown): boolean {
    if (value === undefined || value === false) return false;
    if (value !== true) throw invalidInput("refresh", value, "true, false or absent");
    return true;
}

/**
 * The list task: answers with the page after the event's cursor. A run's first page lists the account; a
 * later page of the same run, in the same process (a warm Lambda container, the local runner), reuses that
 * listing for up to LISTING_REUSE_MS. A page whose listing nears that age says `refreshDue`, and a `refresh` event
 * lists the account again for the next page while this one deletes, so a 50,000-AMI run of about 2.8 hours lists
 * the account about 4 times instead of once a page, and only the first listing holds deletions up.
 */
export function listExpiredImagesHandler(
    clients: UsageClients,
    opts: HandlerOptions & { onListing?: (listing: Listing) => void } = {},
) {
    const { log = consoleLog, now = () => new Date() } = opts;
    let last: { run: string; listedAt: number; account: Account } | undefined;
    function list(event: ListEvent & { refresh: true }): Promise<RefreshResult>;
    function list(event: ListEvent): Promise<ListedPage>;
    async function list(event: ListEvent): Promise<ListedPage | RefreshResult> {
        const settings = eventSettings(event);
        const after = parseCursor(event?.after);
        const run = parseRun(event?.run);
        const at = now();
        if (parseRefresh(event?.refresh)) {
            if (run === "") throw invalidInput("run", event?.run, "the id of the run's first execution");
            if (after === "")
                throw invalidInput("after", event?.after, "the cursor of the page deleting meanwhile");
            const previous = last?.run === run ? last.account : undefined;
            // Without the run's earlier listing (a cold container) a new one could not be checked for gaps, so
            // none is made: the next page lists for itself.
            let refreshed = { images: 0, listedAt: at.toISOString(), kept: false, missing: 0, restored: 0 };
            if (previous) {
                const account = await listAccount(clients.ec2, log);
                const gaps = await fillListingGaps(clients.ec2, account, previous, after);
                last = { run, listedAt: at.getTime(), account };
                refreshed = { ...refreshed, images: account.imageIds.size, kept: true, ...gaps };
            }
            log({ message: "refreshed the run's listing", ...refreshed });
            return { refreshed };
        }
        const reuse =
            run !== "" &&
            after !== "" &&
            last?.run === run &&
            at.getTime() - last.listedAt < LISTING_REUSE_MS;
        let account: Account;
        let listedAt = at.getTime();
        if (reuse && last) {
            account = last.account;
            listedAt = last.listedAt;
            log({
                message: "reusing the run's listing",
                images: account.imageIds.size,
                listedAt: new Date(last.listedAt).toISOString(),
            });
        } else {
            account = await listAccount(clients.ec2, log);
            last = run ? { run, listedAt, account } : undefined;
        }
        const listing = await listExpiredImages(clients, settings, at, log, {
            account,
            strays: after === "",
        });
        opts.onListing?.(listing);
        const page = pageOf(listing, after, { lanes: settings.maxConcurrency });
        const refreshDue =
            run !== "" && page.more && at.getTime() - listedAt >= LISTING_REUSE_MS - REFRESH_AHEAD_MS;
        return { ...page, refreshDue };
    }
    return list;
}

/** The deregister task: one batch, each AMI looked up again first. */
export function deregisterBatchHandler(ec2: EC2Client, opts: HandlerOptions = {}) {
    const { log = consoleLog, now = () => new Date() } = opts;
    return async (
        event: DeregisterEvent,
        context?: InvocationContext,
    ): Promise<{ images: DeregisteredImage[] }> => {
        const settings = eventSettings(event);
        const images = parseImages(event?.images, "images");
        const pool = poolOptions(settings, context, opts);
        return { images: await deregisterBatch(ec2, images, settings, now(), pool, log) };
    };
}

const OUTCOMES = new Set([
    "deregistered",
    "already-gone",
    "dry-run",
    "disabled",
    "would-disable",
    "kept",
    "failed",
]);

function parseDeregistered(value: unknown): DeregisteredImage[] {
    const images = (value as { images?: unknown } | undefined)?.images;
    const refs = parseImages(images, "deregistered.images");
    return refs.map((ref, i) => {
        const raw = (images as Partial<DeregisteredImage>[])[i];
        if (typeof raw.outcome !== "string" || !OUTCOMES.has(raw.outcome)) {
            throw invalidInput(`deregistered.images[${i}].outcome`, raw.outcome, [...OUTCOMES].join(", "));
        }
        const ids = (v: unknown) => (Array.isArray(v) ? v.filter((s) => SNAPSHOT_ID.test(s)) : undefined);
        const deletedWithImage = ids(raw.deletedWithImage);
        const usedByOthers = ids(raw.usedByOthers);
        return {
            ...ref,
            outcome: raw.outcome,
            ...(deletedWithImage ? { deletedWithImage } : {}),
            ...(usedByOthers ? { usedByOthers } : {}),
            ...(raw.reason ? { reason: String(raw.reason) } : {}),
            ...(raw.disabledAt ? { disabledAt: String(raw.disabledAt) } : {}),
            ...(raw.error ? { error: String(raw.error) } : {}),
        };
    });
}

export interface SnapshotsBatchResult {
    summary: BatchSummary;
    images: ImageRecord[];
    snapshots: SnapshotRecord[];
}

/** The snapshots task: what is left of one batch's snapshots. */
export function deleteSnapshotsBatchHandler(ec2: EC2Client, opts: HandlerOptions = {}) {
    const { log = consoleLog } = opts;
    return async (
        event: DeleteSnapshotsEvent,
        context?: InvocationContext,
    ): Promise<SnapshotsBatchResult> => {
        const settings = eventSettings(event);
        const images = parseDeregistered(event?.deregistered);
        const strays = parseSnapshotRefs(event?.snapshots, "snapshots");
        const pool = poolOptions(settings, context, opts);
        const records = await deleteBatchSnapshots(ec2, images, settings.dryRun, pool, log, strays);
        return {
            summary: summarizeBatch(records.images, records.snapshots, settings.recycleBinDays),
            ...records,
        };
    };
}

// One execution's share of the work: the next expired AMIs after a cursor, cut into Map batches, sized so the
// state payload stays far below Step Functions' 256 KiB whatever the account holds.
import { BATCH_SIZE, type SnapshotRef } from "./batches";
import type { ImageRef, Listing } from "./listing";
import type { Skipped } from "./selection";

/** Bytes of batch JSON per page: with the Map's results and the summary, every state stays under 256 KiB. */
export const MAX_PAGE_BYTES = 160 * 1024;
/** Kept AMIs listed by name in the first page's output; `skippedCount` is always complete. */
export const SKIPPED_EXAMPLES = 100;

/** A Map item: AMIs to delete, or (first page only) snapshots no AMI uses to delete. Both keys are always there. */
export interface Batch {
    /** The batch's first AMI id, or first snapshot id: how a failed batch is named. */
    id: string;
    images: ImageRef[];
    snapshots: SnapshotRef[];
}

/** At most this share of a page carries unfinished and orphaned snapshots; the rest wait for the next run. */
const STRAY_SHARE = 0.25;
/** A batch's JSON without its entries: the id is an AMI or snapshot id, at most 22 characters. */
const EMPTY_BATCH_BYTES = '{"id":"snap-0123456789abcdef0","images":[],"snapshots":[]},'.length;

export interface Page {
    batches: Batch[];
    /** AMIs in this page. */
    count: number;
    /** AMIs strictly older than validHours when this page was listed, kept ones included. */
    expired: number;
    /** The last AMI id in this page: the next page starts after it. Empty when the page is empty. */
    cursor: string;
    /** Expired AMIs remain after this page. */
    more: boolean;
    /** How many. */
    remaining: number;
    /** GiB this page's deletions free, at most. */
    estimatedGiB: number;
    skippedCount: number;
    /** The first kept AMIs with their reason, on the first page only (later pages would repeat them). */
    skipped: Skipped[];
    /** Unfinished and orphaned snapshots this page deletes (first page only), and how many wait for the next run. */
    strays: number;
    straysLeft: number;
}

export interface PageOptions {
    batchSize?: number;
    maxBytes?: number;
    /**
     * Batches that run at once (maxConcurrency). The page's AMIs are cut into a multiple of this many batches of
     * nearly equal size, so the batches running side by side finish together and none ends a page alone, on a
     * container that has only its share of EC2's rate. Defaults to 1: full batches, the last one shorter.
     */
    lanes?: number;
}

/** `count` items in runs of `size`, the last one shorter. */
const fullBatches = (count: number, size: number): number[] =>
    Array.from({ length: Math.ceil(count / size) }, (_, i) => Math.min(size, count - i * size));

/** `count` items in `batches` runs of sizes differing by at most one, larger first. */
function evenSizes(count: number, batches: number): number[] {
    return Array.from(
        { length: batches },
        (_, i) => Math.floor(count / batches) + (i < count % batches ? 1 : 0),
    );
}

/**
 * The expired AMIs with ids after `after`, in id order, up to `maxBytes` of batch JSON. Ids only grow from page
 * to page, so no AMI is in two pages; one deleted meanwhile simply is not listed again.
 */
export function pageOf(listing: Listing, after: string, opts: PageOptions = {}): Page {
    const batchSize = opts.batchSize ?? BATCH_SIZE;
    const maxBytes = opts.maxBytes ?? MAX_PAGE_BYTES;
    const next = listing.images
        .filter((i) => i.imageId > after)
        .sort((a, b) => (a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0));
    const batches: Batch[] = [];
    let bytes = 2;
    // Strays first, on the first page only: a later page's listing may run while this page still deletes them.
    const strays = after === "" ? listing.strays : [];
    let strayCount = 0;
    for (const stray of strays) {
        const startsBatch = strayCount % batchSize === 0;
        const cost = JSON.stringify(stray).length + 1 + (startsBatch ? EMPTY_BATCH_BYTES : 0);
        if (bytes + cost > maxBytes * STRAY_SHARE) break;
        if (startsBatch) batches.push({ id: stray.snapshotId, images: [], snapshots: [] });
        batches[batches.length - 1].snapshots.push(stray);
        bytes += cost;
        strayCount += 1;
    }
    // The page's AMIs first, by bytes, keeping room for the extra batches an even cut may add.
    const lanes = Math.max(1, opts.lanes ?? 1);
    const room = maxBytes - bytes - (lanes - 1) * EMPTY_BATCH_BYTES;
    const refs: ImageRef[] = [];
    let used = 0;
    for (const item of next) {
        const ref: ImageRef = {
            imageId: item.imageId,
            snapshotIds: item.snapshotIds,
            ...(item.sizeGiB !== undefined ? { sizeGiB: item.sizeGiB } : {}),
        };
        const cost = JSON.stringify(ref).length + 1 + (refs.length % batchSize === 0 ? EMPTY_BATCH_BYTES : 0);
        if (used + cost > room && refs.length > 0) break;
        refs.push(ref);
        used += cost;
    }
    // A page that is not the last ends on a whole round of full batches, so no batch is smaller than it must be.
    const round = lanes * batchSize;
    if (refs.length < next.length && refs.length > round) refs.length -= refs.length % round;
    const count = refs.length;
    const estimatedGiB = refs.reduce((sum, r) => sum + (r.sizeGiB ?? 0), 0);
    const full = Math.ceil(count / batchSize);
    const cut = Math.min(count, Math.ceil(full / lanes) * lanes);
    let at = 0;
    const sizes = lanes === 1 ? fullBatches(count, batchSize) : evenSizes(count, cut);
    for (const size of sizes) {
        const images = refs.slice(at, at + size);
        batches.push({ id: images[0].imageId, images, snapshots: [] });
        at += size;
    }
    return {
        batches,
        count,
        cursor: count > 0 ? next[count - 1].imageId : after,
        more: count < next.length,
        remaining: next.length - count,
        estimatedGiB,
        expired: listing.expired.length,
        skippedCount: listing.skipped.length,
        skipped: after === "" ? listing.skipped.slice(0, SKIPPED_EXAMPLES) : [],
        strays: strayCount,
        straysLeft: strays.length - strayCount,
    };
}

// One execution's share of the work: the next expired AMIs after a cursor, cut into Map batches, sized so the
// state payload stays far below Step Functions' 256 KiB whatever the account holds.
import { BATCH_SIZE } from "./batches";
import type { ImageRef, Listing } from "./listing";
import type { Skipped } from "./selection";

/** Bytes of batch JSON per page: with the Map's results and the summary, every state stays under 256 KiB. */
export const MAX_PAGE_BYTES = 160 * 1024;
/** Kept AMIs listed by name in the first page's output; `skippedCount` is always complete. */
export const SKIPPED_EXAMPLES = 100;

export interface Page {
    batches: { images: ImageRef[] }[];
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
}

export interface PageOptions {
    batchSize?: number;
    maxBytes?: number;
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
    const batches: { images: ImageRef[] }[] = [];
    let bytes = 2;
    let count = 0;
    let estimatedGiB = 0;
    for (const item of next) {
        const ref: ImageRef = { imageId: item.imageId, snapshotIds: item.snapshotIds };
        const startsBatch = count % batchSize === 0;
        const cost = JSON.stringify(ref).length + 1 + (startsBatch ? '{"images":[]},'.length : 0);
        if (bytes + cost > maxBytes && count > 0) break;
        if (startsBatch) batches.push({ images: [] });
        batches[batches.length - 1].images.push(ref);
        bytes += cost;
        count += 1;
        estimatedGiB += item.sizeGiB ?? 0;
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
    };
}

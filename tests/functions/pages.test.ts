// Pages: the next expired AMIs after a cursor, in batches, bounded in bytes; walking them covers each AMI once.
import * as assert from "node:assert/strict";
import fc from "fast-check";
import type { ImageItem, Listing } from "../../functions/core/ami/listing";
import { MAX_PAGE_BYTES, pageOf } from "../../functions/core/ami/pages";

const item = (n: number, snaps = 1, sizeGiB = 8): ImageItem => ({
    imageId: `ami-${n.toString(16).padStart(17, "0")}`,
    name: `img-${n}`,
    creationDate: "2020-01-01T00:00:00.000Z",
    snapshotIds: Array.from(
        { length: snaps },
        (_, s) => `snap-${(n * 100 + s).toString(16).padStart(17, "0")}`,
    ),
    sizeGiB,
});
const listing = (images: ImageItem[], skipped = [{ imageId: "ami-kept", reason: "keep-tag" }]): Listing => ({
    images,
    expired: images,
    strays: [],
    skipped,
    estimatedGiB: images.reduce((s, i) => s + (i.sizeGiB ?? 0), 0),
});

/** Every page after the first starts after the previous cursor, as the continuation does. */
function walk(l: Listing, maxBytes?: number, lanes?: number) {
    const pages = [];
    let after = "";
    for (;;) {
        const page = pageOf(l, after, { maxBytes, lanes });
        pages.push(page);
        if (!page.more) return pages;
        after = page.cursor;
    }
}

describe("pages", () => {
    it("takes the AMIs after the cursor in id order, in batches of 100", () => {
        const l = listing([
            item(5),
            item(1),
            item(250),
            item(3),
            ...Array.from({ length: 240 }, (_, i) => item(i + 6)),
        ]);
        const first = pageOf(l, "");
        assert.deepEqual(
            first.batches.map((b) => b.images.length),
            [100, 100, 44],
        );
        assert.deepEqual(first.batches[0].images[0], {
            imageId: item(1).imageId,
            snapshotIds: item(1).snapshotIds,
            sizeGiB: 8,
        });
        assert.deepEqual(
            [first.count, first.more, first.remaining, first.cursor, first.estimatedGiB, first.skippedCount],
            [244, false, 0, item(250).imageId, 244 * 8, 1],
        );
        assert.deepEqual(first.skipped, [{ imageId: "ami-kept", reason: "keep-tag" }]);
        const later = pageOf(l, item(200).imageId);
        assert.deepEqual(
            [later.count, later.batches[0].images[0].imageId, later.skipped, later.skippedCount],
            [46, item(201).imageId, [], 1],
        );
    });

    it("stops a page at the byte budget and says how many remain", () => {
        const l = listing(Array.from({ length: 5000 }, (_, i) => item(i, 2)));
        const page = pageOf(l, "");
        assert.ok(JSON.stringify(page.batches).length <= MAX_PAGE_BYTES);
        assert.ok(page.count > 1000 && page.count < 5000, `page of ${page.count}`);
        assert.equal(page.count % 100, 0, "full batches only, since more pages follow");
        assert.ok(page.batches.every((b) => b.images.length === 100));
        assert.deepEqual(
            [page.more, page.remaining, page.cursor],
            [true, 5000 - page.count, item(page.count - 1).imageId],
        );
    });

    it("cuts a page into a multiple of `lanes` batches of nearly equal size, so side-by-side batches end together", () => {
        const ids = (n: number) => Array.from({ length: n }, (_, i) => item(i));
        const sizes = (n: number, lanes: number) =>
            pageOf(listing(ids(n)), "", { lanes }).batches.map((b) => b.images.length);
        assert.deepEqual(sizes(244, 2), [61, 61, 61, 61]);
        assert.deepEqual(sizes(244, 3), [82, 81, 81]);
        assert.deepEqual(sizes(150, 4), [38, 38, 37, 37]);
        assert.deepEqual(sizes(2, 3), [1, 1], "never an empty batch");
        assert.deepEqual(sizes(200, 2), [100, 100]);
        const page = pageOf(listing(ids(244)), "", { lanes: 2 });
        assert.deepEqual(
            page.batches.map((b) => b.id),
            [0, 61, 122, 183].map((n) => item(n).imageId),
            "each batch named by its first AMI, in id order",
        );
    });

    it("an empty listing is one empty page", () => {
        assert.deepEqual(pageOf(listing([], []), ""), {
            batches: [],
            count: 0,
            cursor: "",
            more: false,
            remaining: 0,
            estimatedGiB: 0,
            expired: 0,
            skippedCount: 0,
            skipped: [],
            strays: 0,
            straysLeft: 0,
        });
    });

    it("walking the pages covers every AMI exactly once, each page within its byte budget (property)", () => {
        fc.assert(
            fc.property(
                fc.uniqueArray(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 3000 }),
                fc.integer({ min: 1, max: 12 }),
                fc.integer({ min: 2_000, max: MAX_PAGE_BYTES }),
                fc.integer({ min: 1, max: 40 }),
                (ids, maxSnaps, maxBytes, lanes) => {
                    const l = listing(ids.map((n) => item(n, (n % maxSnaps) + 1)));
                    const pages = walk(l, maxBytes, lanes);
                    const seen = pages.flatMap((p) =>
                        p.batches.flatMap((b) => b.images.map((i) => i.imageId)),
                    );
                    assert.deepEqual(seen, l.images.map((i) => i.imageId).sort());
                    for (const p of pages) {
                        assert.ok(JSON.stringify(p.batches).length <= maxBytes);
                        assert.ok(p.batches.every((b) => b.images.length >= 1 && b.images.length <= 100));
                        const n = p.batches.length;
                        assert.ok(n % lanes === 0 || n === p.count, `${n} batches for ${lanes} lanes`);
                        const lengths = p.batches.map((b) => b.images.length);
                        if (lanes > 1) assert.ok(Math.max(...lengths) - Math.min(...lengths) <= 1, "even");
                        const round = lanes * 100;
                        if (p.more && p.count > round)
                            assert.equal(
                                p.count % round,
                                0,
                                "a page before the last ends on whole rounds of full batches",
                            );
                    }
                },
            ),
            { numRuns: 200, seed: 4 },
        );
    });
});

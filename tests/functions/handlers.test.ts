// The Lambda tasks' events: a bad event fails with a message naming the key and the value, before any AWS call.
import * as assert from "node:assert/strict";
import {
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSnapshotsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import {
    deleteSnapshotsBatchHandler,
    deregisterBatchHandler,
    LISTING_REUSE_MS,
    listExpiredImagesHandler,
    REFRESH_AHEAD_MS,
} from "../../functions/core/ami/tasks";
import { ErrorNames } from "../../functions/core/shared/errors";
import { silentLog } from "../../functions/core/shared/log";
import { createPacer } from "../../functions/core/shared/pacing";
import { awsError, mockedClients, useClientMock, useLookupMocks } from "../helpers";

const settings = settingsWith({ validHours: 48, protectInUse: false });
const one = [{ imageId: "ami-01", snapshotIds: [] }];

describe("Lambda tasks", () => {
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);

    for (const bad of [0, -3, "abc", "", 1.5, null]) {
        it(`rejects settings.validHours ${JSON.stringify(bad)} before calling EC2`, async () => {
            const handler = listExpiredImagesHandler(mockedClients(), { log: silentLog });
            await assert.rejects(handler({ settings: { ...settings, validHours: bad as number } }), {
                name: ErrorNames.invalidInput,
                message: `settings.validHours must be a whole number 1 or more (got ${JSON.stringify(bad)})`,
            });
            assert.equal(ec2().commandCalls(DescribeImagesCommand).length, 0);
        });
    }

    it("refuses an event without settings, a setting it does not know, or one without validHours", async () => {
        const list = listExpiredImagesHandler(mockedClients(), { log: silentLog });
        const cases: [unknown, string][] = [
            [{}, "settings must be an object of cleanup settings (got undefined)"],
            [{ settings: [] }, "settings must be an object of cleanup settings (got [])"],
            [
                { settings: { ...settings, keep_latest: 2 } },
                "keep_latest must be absent: it is not a setting (validHours, dryRun, maxConcurrency, callsPerBatch, keepTagKey, keepLatest, groupByTag, protectInUse, protectUnattachedLaunchConfigurations, keepPublic, keepShared, keepLaunchedWithinDays, sweepOrphanSnapshots, disableForHours, recycleBinDays) (got 2)",
            ],
            [{ settings: { dryRun: true } }, "settings.validHours is required"],
        ];
        for (const [event, message] of cases) {
            await assert.rejects(list(event as never), { name: ErrorNames.invalidInput, message });
        }
        assert.equal(ec2().commandCalls(DescribeImagesCommand).length, 0);
    });

    it("uses the injected clock for the age", async () => {
        ec2()
            .on(DescribeImagesCommand)
            .resolves({
                Images: [
                    {
                        ImageId: "ami-01",
                        State: "available",
                        CreationDate: "2026-11-20T12:00:00.000Z",
                        Name: "a",
                    },
                ],
            });
        const at = (iso: string) =>
            listExpiredImagesHandler(mockedClients(), { log: silentLog, now: () => new Date(iso) });
        assert.equal((await at("2026-11-22T12:00:00.000Z")({ settings })).count, 0);
        assert.equal((await at("2026-11-22T12:00:00.001Z")({ settings })).count, 1);
    });

    it("rejects a batch whose image id is not an AMI id, naming the position, or whose settings are bad", async () => {
        const handler = deregisterBatchHandler(new EC2Client({}), { log: silentLog });
        const cases: [unknown, string][] = [
            [
                { settings, images: [{ imageId: "snap-1", snapshotIds: [] }] },
                'images[0].imageId must be an AMI id like ami-0123456789abcdef0 (got "snap-1")',
            ],
            [
                { settings, images: [{ imageId: "ami-01", snapshotIds: ["vol-1"] }] },
                'images[0].snapshotIds must be a list of snapshot ids like snap-0123456789abcdef0 (got ["vol-1"])',
            ],
            [
                { settings: { ...settings, dryRun: "yes" }, images: one },
                'settings.dryRun must be true or false (got "yes")',
            ],
            [{ settings, images: {} }, "images must be a list of 0 to 200 images (got {})"],
            [
                { settings: { ...settings, keepTagKey: "aws:x" }, images: one },
                'settings.keepTagKey must be a tag key of 1 to 128 characters, not starting with aws: (got "aws:x")',
            ],
            [
                { settings: { ...settings, callsPerBatch: 0 }, images: one },
                "settings.callsPerBatch must be a whole number from 1 to 20 (got 0)",
            ],
        ];
        for (const [event, message] of cases) {
            await assert.rejects(handler(event as never), { name: ErrorNames.invalidInput, message });
        }
        assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 0);
        assert.equal(ec2().commandCalls(DescribeImagesCommand).length, 0);
    });

    it("stops a batch that Lambda's remaining time cannot finish, so the state retries it", async () => {
        ec2()
            .on(DescribeImagesCommand)
            .resolves({ Images: [{ ImageId: "ami-01", State: "available" }] });
        const handler = deregisterBatchHandler(new EC2Client({}), { log: silentLog });
        await assert.rejects(handler({ settings, images: one }, { getRemainingTimeInMillis: () => 20_000 }), {
            name: ErrorNames.outOfTime,
            message: "time ran short after 0 of 1 items; the state retries the batch and skips finished ones",
        });
        assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 0);
    });

    it("rejects a cursor that is not an AMI id", async () => {
        const handler = listExpiredImagesHandler(mockedClients(), { log: silentLog });
        await assert.rejects(handler({ settings, after: "snap-9" }), {
            name: ErrorNames.invalidInput,
            message: 'after must be an AMI id, or "" for the first page (got "snap-9")',
        });
        assert.equal(ec2().commandCalls(DescribeImagesCommand).length, 0);
    });

    describe("a later page of the same run", () => {
        const images = ["ami-01", "ami-02", "ami-03"].map((ImageId) => ({
            ImageId,
            State: "available" as const,
            CreationDate: "2026-11-01T00:00:00.000Z",
            Name: ImageId,
        }));
        const guarded = settingsWith({ validHours: 48 });
        const run = "arn:aws:states:us-east-1:123456789012:execution:cleanup:first";
        const listings = () => ec2().commandCalls(DescribeImagesCommand).length;
        const usageLookups = () => ec2().commandCalls(DescribeLaunchTemplateVersionsCommand).length;
        const strayLookups = () => ec2().commandCalls(DescribeSnapshotsCommand).length;
        beforeEach(() => {
            ec2().on(DescribeInstancesCommand).resolves({ Reservations: [] });
        });

        it("reuses the run's listing for an hour, and looks up what uses the AMIs and the strays as it should", async () => {
            ec2().on(DescribeImagesCommand).resolves({ Images: images });
            let now = new Date("2026-11-22T12:00:00.000Z");
            const list = listExpiredImagesHandler(mockedClients(), { log: silentLog, now: () => now });
            const first = await list({ settings: guarded, run });
            assert.deepEqual([first.count, listings(), usageLookups(), strayLookups()], [3, 1, 1, 1]);
            now = new Date(now.getTime() + LISTING_REUSE_MS - 1);
            const second = await list({ settings: guarded, run, after: "ami-01" });
            assert.deepEqual(
                [second.count, listings(), usageLookups(), strayLookups()],
                [2, 1, 2, 1],
                "the listing reused; usage looked up again; strays only on the first page",
            );
            await list({ settings: guarded, run });
            assert.equal(listings(), 2, "a first page always lists");
            now = new Date(now.getTime() + LISTING_REUSE_MS);
            await list({ settings: guarded, run, after: "ami-02" });
            assert.equal(listings(), 3, "an hour old: listed again");
            await list({ settings: guarded, run: `${run}-other`, after: "ami-02" });
            assert.equal(listings(), 4, "another run's page lists afresh");
            await list({ settings: guarded, after: "ami-02" });
            await list({ settings: guarded, after: "ami-02" });
            assert.equal(listings(), 6, "without a run id every page lists");
        });

        it("asks for the next page's listing while a page deletes, once its listing nears the hour", async () => {
            // Three pages: a page holds 3,000 of these AMIs.
            const many = Array.from({ length: 7_000 }, (_, i) => ({
                ...images[0],
                ImageId: `ami-${String(i).padStart(5, "0")}`,
            }));
            ec2().on(DescribeImagesCommand).resolves({ Images: many });
            let now = new Date("2026-11-22T12:00:00.000Z");
            const start = now.getTime();
            const list = listExpiredImagesHandler(mockedClients(), { log: silentLog, now: () => now });
            const page = (after: string) => list({ settings: guarded, run, after });
            const first = await page("");
            assert.deepEqual([first.more, first.refreshDue], [true, false], "a fresh listing");
            now = new Date(start + LISTING_REUSE_MS - REFRESH_AHEAD_MS - 1);
            assert.equal((await page(first.cursor)).refreshDue, false, "just short of the refresh age");
            now = new Date(start + LISTING_REUSE_MS - REFRESH_AHEAD_MS);
            const second = await page(first.cursor);
            assert.deepEqual(
                [second.more, second.refreshDue],
                [true, true],
                "at the refresh age, more to come",
            );
            const last = await page("ami-05999");
            assert.deepEqual([last.more, last.refreshDue], [false, false], "the last page: no next page");
            assert.equal(listings(), 1);

            const refreshed = await list({ settings: guarded, run, refresh: true, after: second.cursor });
            assert.deepEqual(refreshed, {
                refreshed: {
                    images: 7_000,
                    listedAt: now.toISOString(),
                    kept: true,
                    missing: 0,
                    restored: 0,
                },
            });
            assert.deepEqual(
                [listings(), usageLookups()],
                [2, 4],
                "a refresh lists the account, nothing else",
            );
            now = new Date(start + LISTING_REUSE_MS + 1);
            const next = await page(second.cursor);
            assert.deepEqual(
                [next.count > 0, next.refreshDue, listings()],
                [true, false, 2],
                "past the first listing's hour, the next page finds the refreshed one",
            );
        });

        it("fills a refreshed listing's gaps in the pages to come from EC2, and keeps no listing it cannot check", async () => {
            // EC2 does not promise consistent DescribeImages pages while AMIs go: this listing lacks four of
            // page 2's AMIs (ami-03 still there, ami-02 gone meanwhile, ami-06 being deregistered, ami-07 since
            // tagged to keep) and one of page 1's (ami-01). The states are those DescribeImages documents ("deregistered" among them).
            const later = [
                ...images,
                { ...images[0], ImageId: "ami-04", Name: "ami-04" },
                { ...images[0], ImageId: "ami-05", Name: "ami-05", State: "disabled" as const },
                { ...images[0], ImageId: "ami-06", Name: "ami-06" },
                { ...images[0], ImageId: "ami-07", Name: "ami-07" },
            ];
            ec2().on(DescribeImagesCommand).resolves({ Images: later });
            const list = listExpiredImagesHandler(mockedClients(), { log: silentLog });
            await list({ settings: guarded, run });
            const lacking = later.filter(
                (i) => !["ami-01", "ami-02", "ami-03", "ami-06", "ami-07"].includes(i.ImageId),
            );
            ec2()
                .on(DescribeImagesCommand)
                .callsFake((input) => {
                    if (!input.ImageIds) return { Images: lacking };
                    // By ImageIds EC2 fails the whole call for an id it does not know, naming it.
                    if (input.ImageIds.includes("ami-02"))
                        throw awsError("InvalidAMIID.NotFound", "The image id '[ami-02]' does not exist");
                    return {
                        Images: [
                            { ...images[2], Name: "renamed", Tags: [{ Key: "team", Value: "a" }] },
                            { ...later[5], State: "deregistered" },
                            // Tagged to keep since the first listing: the description now decides.
                            { ...later[6], Tags: [{ Key: guarded.keepTagKey, Value: "true" }] },
                        ].filter((i) => input.ImageIds.includes(i.ImageId)),
                    };
                });
            const refreshed = await list({ settings: guarded, run, refresh: true, after: "ami-01" });
            assert.deepEqual(
                { ...refreshed.refreshed, listedAt: "" },
                { images: 5, listedAt: "", kept: true, missing: 4, restored: 2 },
            );
            const next = await list({ settings: guarded, run, after: "ami-01" });
            assert.deepEqual(
                next.batches.flatMap((b) => b.images.map((i) => i.imageId)),
                ["ami-03", "ami-04", "ami-05"],
                "the gap filled with what EC2 still describes: not the gone one, nor the one now tagged to keep",
            );
            const asked = ec2()
                .commandCalls(DescribeImagesCommand)
                .map((c) => c.args[0].input.ImageIds)
                .filter((ids) => ids);
            assert.deepEqual(
                asked,
                [
                    ["ami-02", "ami-03", "ami-06", "ami-07"],
                    ["ami-03", "ami-06", "ami-07"],
                ],
                "only the pages to come are looked up",
            );

            const cold = listExpiredImagesHandler(mockedClients(), { log: silentLog });
            const before = listings();
            const unchecked = await cold({ settings: guarded, run, refresh: true, after: "ami-01" });
            assert.deepEqual(
                { ...unchecked.refreshed, listedAt: "" },
                { images: 0, listedAt: "", kept: false, missing: 0, restored: 0 },
            );
            assert.equal(listings(), before, "a cold container lists nothing it could not check");
            await cold({ settings: guarded, run, after: "ami-01" });
            assert.equal(listings(), before + 1, "and its next page lists for itself");
        });

        it("refuses a refresh without the run it lists for, or one that is not a boolean", async () => {
            const list = listExpiredImagesHandler(mockedClients(), { log: silentLog });
            await assert.rejects(list({ settings, refresh: true, after: "ami-01" }), {
                name: ErrorNames.invalidInput,
                message: "run must be the id of the run's first execution (got undefined)",
            });
            await assert.rejects(list({ settings, refresh: true, run }), {
                name: ErrorNames.invalidInput,
                message: "after must be the cursor of the page deleting meanwhile (got undefined)",
            });
            await assert.rejects(list({ settings, run, refresh: "yes" } as never), {
                name: ErrorNames.invalidInput,
                message: 'refresh must be true, false or absent (got "yes")',
            });
            assert.equal(listings(), 0);
        });

        it("cuts the page into as many even batches as run at once", async () => {
            ec2().on(DescribeImagesCommand).resolves({ Images: images });
            const list = listExpiredImagesHandler(mockedClients(), { log: silentLog });
            const page = await list({ settings: settingsWith({ validHours: 48, maxConcurrency: 3 }) });
            assert.deepEqual(
                page.batches.map((b) => b.images.map((i) => i.imageId)),
                [["ami-01"], ["ami-02"], ["ami-03"]],
            );
        });

        it("lists again in a new process (a cold container), and refuses a run id that is not text", async () => {
            ec2().on(DescribeImagesCommand).resolves({ Images: images });
            const page = await listExpiredImagesHandler(mockedClients(), { log: silentLog })({
                settings: guarded,
                run,
                after: "ami-01",
            });
            assert.deepEqual([page.count, listings()], [2, 1]);
            await assert.rejects(
                listExpiredImagesHandler(mockedClients(), { log: silentLog })({ settings, run: 7 } as never),
                {
                    name: ErrorNames.invalidInput,
                    message: "run must be the id of the run's first execution (got 7)",
                },
            );
        });
    });

    it("gives a Lambda container's pacer its share: 1/maxConcurrency of EC2's rates", async () => {
        const shares: number[] = [];
        const pacer = { ...createPacer(), divideAmong: (n: number) => shares.push(n) };
        ec2().on(DescribeImagesCommand).resolves({ Images: [] });
        const handler = deregisterBatchHandler(new EC2Client({}), { log: silentLog, pacer });
        await handler({ settings: settingsWith({ validHours: 48, maxConcurrency: 3 }), images: [] });
        const snapshots = deleteSnapshotsBatchHandler(new EC2Client({}), { log: silentLog, pacer });
        await snapshots({
            settings: settingsWith({ validHours: 48, maxConcurrency: 7 }),
            deregistered: { images: [] },
        });
        assert.deepEqual(shares, [3, 7]);
    });
});

// The Lambda tasks' events: a bad event fails with a message naming the key and the value, before any AWS call.
import * as assert from "node:assert/strict";
import { DeregisterImageCommand, DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import { deregisterBatchHandler, listExpiredImagesHandler } from "../../functions/core/ami/tasks";
import { ErrorNames } from "../../functions/core/shared/errors";
import { silentLog } from "../../functions/core/shared/log";
import { mockedClients, useClientMock, useLookupMocks } from "../helpers";

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
});

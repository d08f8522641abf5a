// Lambda event validation: a bad event fails with a message naming the key and the value, before any AWS call.
import * as assert from "node:assert/strict";
import { DeregisterImageCommand, DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ErrorNames } from "../../functions/core/errors";
import { deregisterBatchHandler, listExpiredImagesHandler } from "../../functions/core/handlers";
import { silentLog } from "../../functions/core/log";
import { useClientMock } from "../helpers";

describe("Lambda handlers", () => {
    const ec2 = useClientMock(EC2Client);

    for (const bad of [0, -3, "abc", "", 1.5, null]) {
        it(`rejects valid_hours ${JSON.stringify(bad)} before calling EC2`, async () => {
            const handler = listExpiredImagesHandler(new EC2Client({}), { log: silentLog });
            await assert.rejects(handler({ valid_hours: bad as number }), {
                name: ErrorNames.invalidInput,
                message: `valid_hours must be a whole number 1 or more (got ${JSON.stringify(bad)})`,
            });
            assert.equal(ec2().commandCalls(DescribeImagesCommand).length, 0);
        });
    }

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
            listExpiredImagesHandler(new EC2Client({}), { log: silentLog, now: () => new Date(iso) });
        assert.equal(
            (await at("2026-11-22T12:00:00.000Z")({ valid_hours: 48, protect_in_use: false })).count,
            0,
        );
        assert.equal(
            (await at("2026-11-22T12:00:00.001Z")({ valid_hours: 48, protect_in_use: false })).count,
            1,
        );
    });

    it("rejects a batch whose image id is not an AMI id, naming the position", async () => {
        const handler = deregisterBatchHandler(new EC2Client({}), { log: silentLog });
        await assert.rejects(handler({ images: [{ imageId: "snap-1", snapshotIds: [] }], dryRun: false }), {
            name: ErrorNames.invalidInput,
            message: 'images[0].imageId must be an AMI id like ami-0123456789abcdef0 (got "snap-1")',
        });
        await assert.rejects(handler({ images: [{ imageId: "ami-01", snapshotIds: ["vol-1"] }] }), {
            name: ErrorNames.invalidInput,
            message:
                'images[0].snapshotIds must be a list of snapshot ids like snap-0123456789abcdef0 (got ["vol-1"])',
        });
        await assert.rejects(
            handler({
                images: [{ imageId: "ami-01", snapshotIds: [] }],
                dryRun: "yes" as unknown as boolean,
            }),
            { message: 'dryRun must be true or false (got "yes")' },
        );
        await assert.rejects(handler({ images: [] }), {
            message: "images must be a list of 1 to 200 images (got [])",
        });
        await assert.rejects(
            handler({ images: [{ imageId: "ami-01", snapshotIds: [] }], keep_tag_key: "aws:x" }),
            {
                message:
                    'keep_tag_key must be a tag key of 1 to 128 characters, not starting with aws: (got "aws:x")',
            },
        );
        await assert.rejects(handler({ images: [{ imageId: "ami-01", snapshotIds: [] }], concurrency: 0 }), {
            message: "concurrency must be a whole number from 1 to 20 (got 0)",
        });
        assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 0);
        assert.equal(ec2().commandCalls(DescribeImagesCommand).length, 0);
    });

    it("stops a batch that Lambda's remaining time cannot finish, as throttled, so the state retries it", async () => {
        ec2()
            .on(DescribeImagesCommand)
            .resolves({ Images: [{ ImageId: "ami-01", State: "available" }] });
        const handler = deregisterBatchHandler(new EC2Client({}), { log: silentLog });
        await assert.rejects(
            handler(
                { images: [{ imageId: "ami-01", snapshotIds: [] }] },
                { getRemainingTimeInMillis: () => 20_000 },
            ),
            {
                name: ErrorNames.throttled,
                message:
                    "time ran short after 0 of 1 items; the state retries the batch and skips finished ones",
            },
        );
        assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 0);
    });

    it("rejects a cursor that is not an AMI id", async () => {
        const handler = listExpiredImagesHandler(new EC2Client({}), { log: silentLog });
        await assert.rejects(handler({ valid_hours: 1, after: "snap-9" }), {
            name: ErrorNames.invalidInput,
            message: 'after must be an AMI id, or "" for the first page (got "snap-9")',
        });
        assert.equal(ec2().commandCalls(DescribeImagesCommand).length, 0);
    });
});

// Lambda event validation: a bad event fails with a message naming the key and the value, before any AWS call.
import * as assert from "node:assert/strict";
import { DeregisterImageCommand, DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ErrorNames } from "../../functions/core/errors";
import { deregisterImageHandler, listExpiredImagesHandler } from "../../functions/core/handlers";
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
            (await at("2026-11-22T12:00:00.000Z")({ valid_hours: 48, protect_in_use: false })).images.length,
            0,
        );
        assert.equal(
            (await at("2026-11-22T12:00:00.001Z")({ valid_hours: 48, protect_in_use: false })).images.length,
            1,
        );
    });

    it("rejects an image id that is not an AMI id", async () => {
        const handler = deregisterImageHandler(new EC2Client({}), { log: silentLog });
        await assert.rejects(handler({ image: { imageId: "snap-1", snapshotIds: [] }, dryRun: false }), {
            name: ErrorNames.invalidInput,
            message: 'image.imageId must be an AMI id like ami-0123456789abcdef0 (got "snap-1")',
        });
        await assert.rejects(handler({ image: { imageId: "ami-01", snapshotIds: ["vol-1"] } }), {
            name: ErrorNames.invalidInput,
        });
        await assert.rejects(handler({ image: { imageId: "ami-01", snapshotIds: [] }, dryRun: "yes" }), {
            message: 'dryRun must be true or false (got "yes")',
        });
        assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 0);
    });
});

// Through the local runner, on the in-process EC2 of tests/fakeEc2.ts (moto has none of these): every AMI state
// EC2 has today, deregistration protection, LastLaunchedTime, and EC2 Fleets and Spot Fleets.
import * as assert from "node:assert/strict";
import {
    DescribeFleetsCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSpotFleetRequestsCommand,
    EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import { runCleanup } from "../../runner/run";
import { installFakeEc2 } from "../fakeEc2";
import { mockedClients, useClientMock, useLookupMocks } from "../helpers";

const NOW = new Date("2026-11-22T12:00:00.000Z");
const image = (n: number, extra: Partial<Image> = {}): Image => ({
    ImageId: `ami-0${n}`,
    Name: `app-${n}`,
    State: "available",
    CreationDate: "2026-01-01T00:00:00.000Z",
    BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-0${n}`, VolumeSize: 8 } }],
    ...extra,
});

describe("AMI states and attributes EC2 has today, through the runner", () => {
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);
    const run = (changes = {}) =>
        runCleanup({
            clients: mockedClients(),
            now: () => NOW,
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 24, ...changes }),
        });

    it("deletes disabled and deprecated AMIs like any other, and never touches pending, failed or error ones", async () => {
        const fake = installFakeEc2(
            ec2(),
            [
                image(1, { State: "disabled" }),
                image(2, { DeprecationTime: "2026-06-01T00:00:00.000Z" }),
                image(3, { State: "pending" }),
                image(4, { State: "failed" }),
                image(5, { State: "error" }),
            ],
            NOW,
        );
        const s = await run();
        assert.deepEqual(
            s.deleted.map((d) => d.imageId),
            ["ami-01", "ami-02"],
        );
        assert.deepEqual(s.failed, []);
        assert.deepEqual([...fake.images.keys()], ["ami-03", "ami-04", "ami-05"]);
        assert.deepEqual(fake.deletedSnapshots, ["snap-01", "snap-02"]);
    });

    it("keeps a protected AMI with its reason, never sends it to DeregisterImage, and the run is not a failure", async () => {
        const fake = installFakeEc2(
            ec2(),
            [
                image(1, { DeregistrationProtection: "enabled" }),
                image(2, { DeregistrationProtection: "enabled-with-cooldown" }),
                image(3, { DeregistrationProtection: "disabled" }),
            ],
            NOW,
        );
        const s = await run();
        assert.deepEqual(s.skipped, [
            { imageId: "ami-01", reason: "deregistration-protection" },
            { imageId: "ami-02", reason: "deregistration-protection" },
        ]);
        assert.deepEqual([s.deleted.map((d) => d.imageId), s.failed], [["ami-03"], []]);
        assert.deepEqual(fake.deregisterAttempts, ["ami-03"], "nothing is unprotected on the user's behalf");
    });

    it("keeps AMIs that launched an instance within keepLaunchedWithinDays, and only then", async () => {
        installFakeEc2(
            ec2(),
            [
                image(1, { LastLaunchedTime: "2026-11-20T12:00:00.000Z" }),
                image(2, { LastLaunchedTime: "2026-10-01T12:00:00.000Z" }),
                image(3),
            ],
            NOW,
        );
        const s = await run({ keepLaunchedWithinDays: 7, dryRun: true });
        assert.deepEqual(s.skipped, [
            { imageId: "ami-01", reason: "launched-recently 2026-11-20T12:00:00.000Z" },
        ]);
        assert.deepEqual(
            s.wouldDelete.map((d) => d.imageId),
            ["ami-02", "ami-03"],
        );
        const off = await run({ dryRun: true });
        assert.equal(off.wouldDelete.length, 3, "0, the default, turns the rule off");
    });

    it("keeps what an active EC2 Fleet or Spot Fleet names, directly or through a template version it pins", async () => {
        installFakeEc2(
            ec2(),
            [1, 2, 3, 4, 5, 6].map((n) => image(n)),
            NOW,
        );
        ec2()
            .on(DescribeFleetsCommand)
            .resolves({
                Fleets: [
                    {
                        FleetId: "fleet-1",
                        FleetState: "active",
                        LaunchTemplateConfigs: [
                            {
                                LaunchTemplateSpecification: { LaunchTemplateId: "lt-fleet", Version: "7" },
                                Overrides: [{ ImageId: "ami-01" }],
                            },
                        ],
                    },
                    {
                        FleetId: "fleet-2",
                        FleetState: "deleted",
                        LaunchTemplateConfigs: [{ Overrides: [{ ImageId: "ami-05" }] }],
                    },
                ],
            });
        ec2()
            .on(DescribeSpotFleetRequestsCommand)
            .resolves({
                SpotFleetRequestConfigs: [
                    {
                        SpotFleetRequestId: "sfr-1",
                        SpotFleetRequestState: "active",
                        SpotFleetRequestConfig: {
                            IamFleetRole: "arn:aws:iam::123456789012:role/fleet",
                            TargetCapacity: 1,
                            LaunchSpecifications: [{ ImageId: "ami-03" }],
                            LaunchTemplateConfigs: [
                                { LaunchTemplateSpecification: { LaunchTemplateName: "spot", Version: "2" } },
                            ],
                        },
                    },
                ],
            });
        ec2()
            .on(DescribeLaunchTemplateVersionsCommand)
            .callsFake((input) => {
                if (input.LaunchTemplateId === "lt-fleet" && input.Versions?.includes("7"))
                    return {
                        LaunchTemplateVersions: [
                            {
                                LaunchTemplateId: "lt-fleet",
                                VersionNumber: 7,
                                LaunchTemplateData: { ImageId: "ami-02" },
                            },
                        ],
                    };
                if (input.LaunchTemplateName === "spot" && input.Versions?.includes("2"))
                    return {
                        LaunchTemplateVersions: [
                            {
                                LaunchTemplateId: "lt-spot",
                                VersionNumber: 2,
                                LaunchTemplateData: { ImageId: "ami-04" },
                            },
                        ],
                    };
                return { LaunchTemplateVersions: [] };
            });
        const s = await run({ dryRun: true });
        assert.deepEqual(s.skipped, [
            { imageId: "ami-01", reason: "in-use:ec2-fleet fleet-1" },
            { imageId: "ami-02", reason: "in-use:launch-template lt-fleet version 7" },
            { imageId: "ami-03", reason: "in-use:spot-fleet sfr-1" },
            { imageId: "ami-04", reason: "in-use:launch-template lt-spot version 2" },
        ]);
        assert.deepEqual(
            s.wouldDelete.map((d) => d.imageId),
            ["ami-05", "ami-06"],
            "a deleted fleet launches nothing",
        );
    });
});

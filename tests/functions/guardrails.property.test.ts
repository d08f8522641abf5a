// Property test: over random accounts, what the listing and the batches delete (and, with disableForHours, disable
// first) is exactly what a small independent model of the keep rules and the stages predicts, and no snapshot of a
// kept AMI is ever deleted. EC2 is the in-process fake of
// tests/fakeEc2.ts; what uses an AMI is stubbed per scenario, in every place AWS can launch from.
import * as assert from "node:assert/strict";
import {
    AutoScalingClient,
    DescribeAutoScalingGroupsCommand,
    DescribeLaunchConfigurationsCommand,
} from "@aws-sdk/client-auto-scaling";
import {
    DescribeFleetsCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSpotFleetRequestsCommand,
    EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import { DescribeParametersCommand, GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import * as fc from "fast-check";
import { deleteBatchSnapshots, deregisterBatch } from "../../functions/core/ami/batches";
import { listExpiredImages } from "../../functions/core/ami/listing";
import { pageOf } from "../../functions/core/ami/pages";
import { settingsWith } from "../../functions/core/ami/settings";
import { installFakeEc2 } from "../fakeEc2";
import { mockedClients, useClientMock } from "../helpers";

const NOW = new Date("2026-11-22T12:00:00.000Z");
const STEMS = ["web", "api", "batch-job"];
const USES = [
    "none",
    "none",
    "none",
    "none",
    "instance",
    "template-default",
    "template-pinned",
    "launch-config",
    "unattached-launch-config",
    "ssm",
    "fleet",
    "spot-fleet",
    "deleted-fleet",
] as const;

interface Ami {
    id: string;
    ageHours: number;
    self: boolean;
    state: "available" | "disabled" | "pending" | "failed" | "error";
    deprecated: boolean;
    keepTag: string | undefined;
    stem: string;
    app: string;
    version: number;
    use: (typeof USES)[number];
    public: boolean;
    shared: "none" | "account" | "organization" | "ou";
    protection: "disabled" | "enabled" | "enabled-with-cooldown";
    launchedHoursAgo: number | undefined;
    snapshots: string[];
    /** The cleanup's own marks: disabled by it (that long ago, or a value it cannot read), restored by `restore`. */
    mark: "none" | "disabled-at" | "unreadable" | "restored";
    disabledHoursAgo: number;
}

const amiArb = (i: number) =>
    fc.record({
        id: fc.constant(`ami-${i.toString(16).padStart(8, "0")}`),
        ageHours: fc.integer({ min: 0, max: 2000 }),
        self: fc.boolean(),
        state: fc.constantFrom(
            "available",
            "available",
            "available",
            "disabled",
            "pending",
            "failed",
            "error",
        ),
        deprecated: fc.boolean(),
        keepTag: fc.constantFrom(undefined, undefined, "yes", "false", "FALSE", ""),
        stem: fc.constantFrom(...STEMS),
        app: fc.constantFrom("a", "b"),
        version: fc.integer({ min: 1, max: 99 }),
        use: fc.constantFrom(...USES),
        public: fc.constantFrom(false, false, false, true),
        shared: fc.constantFrom("none", "none", "none", "account", "organization", "ou"),
        protection: fc.constantFrom("disabled", "disabled", "disabled", "enabled", "enabled-with-cooldown"),
        launchedHoursAgo: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
        // own snapshots, and sometimes one shared with the next AMI
        snapshots: fc.constantFrom(
            [`snap-${i}a`],
            [`snap-${i}a`, `snap-${i}b`],
            [`snap-${i}a`, `snap-shared-${i + 1}`],
            [],
        ),
        mark: fc.constantFrom("none", "none", "none", "disabled-at", "disabled-at", "unreadable", "restored"),
        // From an hour ago: a tag stamped with this run's own time is how the test tells what this run disabled.
        disabledHoursAgo: fc.oneof(fc.constantFrom(23, 24, 71, 72), fc.integer({ min: 1, max: 200 })),
    }) as fc.Arbitrary<Ami>;

const scenarioArb = fc.integer({ min: 0, max: 12 }).chain((n) =>
    fc.record({
        amis: fc.tuple(...Array.from({ length: n }, (_, i) => amiArb(i))),
        validHours: fc.integer({ min: 1, max: 1000 }),
        keepLatest: fc.integer({ min: 0, max: 3 }),
        groupByTag: fc.boolean(),
        protectInUse: fc.boolean(),
        protectUnattachedLaunchConfigurations: fc.boolean(),
        keepPublic: fc.boolean(),
        keepShared: fc.boolean(),
        keepLaunchedWithinDays: fc.constantFrom(0, 0, 1, 7, 30),
        disableForHours: fc.constantFrom(0, 0, 24, 72),
    }),
);
type Scenario = ReturnType<typeof scenarioArb.generate>["value"];

const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();

/** The rules and the stages, written independently of the implementation: what is deleted, what disabled. */
function model(s: Scenario): { deleted: Set<string>; disabled: Set<string> } {
    const eligible = s.amis.filter((a) => a.self && (a.state === "available" || a.state === "disabled"));
    const group = (a: Ami) => (s.groupByTag && s.keepLatest > 0 ? a.app : a.stem);
    const newest = new Set<string>();
    for (const g of new Set(eligible.map(group))) {
        const members = eligible
            .filter((a) => group(a) === g)
            .sort((x, y) => x.ageHours - y.ageHours || x.id.localeCompare(y.id));
        for (const a of members.slice(0, s.keepLatest)) newest.add(a.id);
    }
    const inUse = (a: Ami) =>
        a.use !== "none" &&
        a.use !== "deleted-fleet" &&
        (a.use !== "unattached-launch-config" || s.protectUnattachedLaunchConfigurations);
    const goes = eligible
        .filter((a) => a.ageHours > s.validHours)
        .filter((a) => a.keepTag === undefined || a.keepTag.toLowerCase() === "false")
        // Restored, or re-enabled by its owner after the cleanup disabled it: kept whatever else holds.
        .filter((a) => a.mark !== "restored")
        .filter((a) => !(a.state === "available" && (a.mark === "disabled-at" || a.mark === "unreadable")))
        .filter((a) => a.protection === "disabled")
        .filter((a) => !(s.keepPublic && a.public))
        .filter(
            (a) =>
                !(
                    s.keepLaunchedWithinDays > 0 &&
                    a.launchedHoursAgo !== undefined &&
                    a.launchedHoursAgo <= s.keepLaunchedWithinDays * 24
                ),
        )
        .filter((a) => !newest.has(a.id))
        .filter((a) => !s.protectInUse || !inUse(a))
        .filter((a) => !(s.keepShared && a.shared !== "none"));
    if (s.disableForHours === 0) return { deleted: new Set(goes.map((a) => a.id)), disabled: new Set() };
    // Stage one for what the cleanup has not disabled; stage two once it has stayed disabled long enough.
    const waited = (a: Ami) => a.mark === "disabled-at" && a.disabledHoursAgo >= s.disableForHours;
    return {
        disabled: new Set(goes.filter((a) => a.mark === "none").map((a) => a.id)),
        deleted: new Set(goes.filter(waited).map((a) => a.id)),
    };
}

function imageOf(a: Ami): Image {
    return {
        ImageId: a.id,
        OwnerId: a.self ? "123456789012" : "210987654321",
        Name: `${a.stem}-${a.version}`,
        State: a.state,
        CreationDate: hoursAgo(a.ageHours),
        Public: a.public,
        DeregistrationProtection: a.protection,
        ...(a.deprecated ? { DeprecationTime: hoursAgo(1) } : {}),
        ...(a.launchedHoursAgo === undefined ? {} : { LastLaunchedTime: hoursAgo(a.launchedHoursAgo) }),
        Tags: [
            ...(a.keepTag === undefined ? [] : [{ Key: "image-janitor:keep", Value: a.keepTag }]),
            { Key: "app", Value: a.app },
            ...(a.mark === "disabled-at"
                ? [{ Key: "image-janitor:disabled-at", Value: hoursAgo(a.disabledHoursAgo) }]
                : a.mark === "unreadable"
                  ? [{ Key: "image-janitor:disabled-at", Value: "last tuesday" }]
                  : a.mark === "restored"
                    ? [{ Key: "image-janitor:restored-at", Value: hoursAgo(1) }]
                    : []),
        ],
        BlockDeviceMappings: a.snapshots.map((id) => ({ DeviceName: "/dev/xvda", Ebs: { SnapshotId: id } })),
    };
}

describe("guardrails (property)", function () {
    this.timeout(300_000);
    const ec2 = useClientMock(EC2Client);
    const autoScaling = useClientMock(AutoScalingClient);
    const ssm = useClientMock(SSMClient);

    /** Every place an AMI can be launched from, as the lookups see it, for the AMIs the scenario says. */
    function stubUsage(s: Scenario) {
        const using = (use: Ami["use"]) => s.amis.filter((a) => a.use === use);
        ec2()
            .on(DescribeInstancesCommand)
            .resolves({
                Reservations: [
                    { Instances: using("instance").map((a) => ({ ImageId: a.id, InstanceId: `i-${a.id}` })) },
                ],
            });
        ec2()
            .on(DescribeLaunchTemplateVersionsCommand)
            .callsFake((input) => {
                if (!input.LaunchTemplateId)
                    return {
                        LaunchTemplateVersions: using("template-default").map((a) => ({
                            LaunchTemplateId: `lt-${a.id}`,
                            VersionNumber: 1,
                            LaunchTemplateData: { ImageId: a.id },
                        })),
                    };
                // Pinned: the group names version 3 of lt-<ami>, whose default and latest name something else.
                const id = String(input.LaunchTemplateId).slice(3);
                return {
                    LaunchTemplateVersions: (input.Versions ?? []).includes("3")
                        ? [
                              {
                                  LaunchTemplateId: input.LaunchTemplateId,
                                  VersionNumber: 3,
                                  LaunchTemplateData: { ImageId: id },
                              },
                          ]
                        : [],
                };
            });
        const pinned = using("template-pinned").map((a) => {
            const spec = { LaunchTemplateId: `lt-${a.id}`, Version: "3" };
            const n = Number.parseInt(a.id.slice(4), 16);
            // Pinned in each place a group can name a template.
            return n % 3 === 0
                ? { AutoScalingGroupName: `g-${a.id}`, LaunchTemplate: spec }
                : n % 3 === 1
                  ? {
                        AutoScalingGroupName: `g-${a.id}`,
                        MixedInstancesPolicy: { LaunchTemplate: { LaunchTemplateSpecification: spec } },
                    }
                  : {
                        AutoScalingGroupName: `g-${a.id}`,
                        MixedInstancesPolicy: {
                            LaunchTemplate: {
                                LaunchTemplateSpecification: {
                                    LaunchTemplateId: "lt-other",
                                    Version: "$Default",
                                },
                                Overrides: [{ InstanceType: "t3.micro", LaunchTemplateSpecification: spec }],
                            },
                        },
                    };
        });
        autoScaling()
            .on(DescribeAutoScalingGroupsCommand)
            .resolves({
                AutoScalingGroups: [
                    ...pinned,
                    ...using("launch-config").map((a) => ({
                        AutoScalingGroupName: `g-${a.id}`,
                        LaunchConfigurationName: `lc-${a.id}`,
                        DesiredCapacity: 0,
                    })),
                ] as never,
            });
        autoScaling()
            .on(DescribeLaunchConfigurationsCommand)
            .resolves({
                LaunchConfigurations: [...using("launch-config"), ...using("unattached-launch-config")].map(
                    (a) => ({
                        LaunchConfigurationName: `lc-${a.id}`,
                        ImageId: a.id,
                    }),
                ) as never,
            });
        ssm()
            .on(DescribeParametersCommand)
            .resolves({
                Parameters: using("ssm").map((a) => ({ Name: `/golden/${a.id}`, DataType: "aws:ec2:image" })),
            });
        ssm()
            .on(GetParametersCommand)
            .callsFake((input) => ({
                Parameters: (input.Names ?? []).map((Name: string) => ({
                    Name,
                    Value: Name.split("/").pop(),
                })),
            }));
        const fleet = (a: Ami, state: string) => ({
            FleetId: `fleet-${a.id}`,
            FleetState: state,
            LaunchTemplateConfigs: [{ Overrides: [{ ImageId: a.id }] }],
        });
        ec2()
            .on(DescribeFleetsCommand)
            .resolves({
                Fleets: [
                    ...using("fleet").map((a) => fleet(a, "active")),
                    ...using("deleted-fleet").map((a) => fleet(a, "deleted")),
                ] as never,
            });
        ec2()
            .on(DescribeSpotFleetRequestsCommand)
            .resolves({
                SpotFleetRequestConfigs: using("spot-fleet").map((a) => ({
                    SpotFleetRequestId: `sfr-${a.id}`,
                    SpotFleetRequestState: "active",
                    SpotFleetRequestConfig: { LaunchSpecifications: [{ ImageId: a.id }] },
                })) as never,
            });
    }

    it("deletes exactly what the model predicts and never a kept AMI's snapshot (1,000 random runs)", async () => {
        await fc.assert(
            fc.asyncProperty(scenarioArb, async (s) => {
                for (const stub of [ec2(), autoScaling(), ssm()]) stub.reset();
                const fake = installFakeEc2(ec2(), s.amis.map(imageOf), NOW);
                for (const a of s.amis) {
                    if (a.shared === "account")
                        fake.launchPermissions.set(a.id, [{ UserId: "210987654321" }]);
                    if (a.shared === "organization")
                        fake.launchPermissions.set(a.id, [
                            { OrganizationArn: "arn:aws:organizations::1:organization/o-1" },
                        ]);
                    if (a.shared === "ou")
                        fake.launchPermissions.set(a.id, [
                            { OrganizationalUnitArn: "arn:aws:organizations::1:ou/o-1/ou-1" },
                        ]);
                }
                stubUsage(s);
                const settings = settingsWith({
                    validHours: s.validHours,
                    keepLatest: s.keepLatest,
                    // Grouping is refused without keepLatest: it would do nothing.
                    ...(s.groupByTag && s.keepLatest > 0 ? { groupByTag: "app" } : {}),
                    protectInUse: s.protectInUse,
                    protectUnattachedLaunchConfigurations: s.protectUnattachedLaunchConfigurations,
                    keepPublic: s.keepPublic,
                    keepShared: s.keepShared,
                    keepLaunchedWithinDays: s.keepLaunchedWithinDays,
                    disableForHours: s.disableForHours,
                });
                const client = new EC2Client({});
                const listing = await listExpiredImages(mockedClients(client), settings, NOW);
                const pool = { concurrency: 4 };
                for (const batch of pageOf(listing, "").batches) {
                    const deregistered = await deregisterBatch(client, batch.images, settings, NOW, pool);
                    await deleteBatchSnapshots(client, deregistered, false, pool);
                }

                const { deleted: expected, disabled } = model(s);
                assert.deepEqual(new Set(fake.deregistered), expected);
                // Not even tried: a kept AMI is never sent to DeregisterImage (protection is not a failure).
                assert.deepEqual(new Set(fake.deregisterAttempts), expected);
                // Disabled by this run: disabled now, and tagged with this run's time; nothing else was.
                const stamped = [...fake.images.values()].filter((i) =>
                    (i.Tags ?? []).some(
                        (t) => t.Key === "image-janitor:disabled-at" && t.Value === NOW.toISOString(),
                    ),
                );
                assert.deepEqual(new Set(stamped.map((i) => i.ImageId)), disabled);
                for (const i of stamped) assert.equal(i.State, "disabled", `${i.ImageId} disabled`);
                for (const a of s.amis.filter((x) => !expected.has(x.id))) {
                    assert.ok(fake.images.has(a.id), `${a.id} is still registered`);
                    for (const snap of a.snapshots)
                        assert.ok(
                            !fake.deletedSnapshots.includes(snap),
                            `${snap} of kept ${a.id} was deleted`,
                        );
                }
            }),
            { numRuns: 1000, seed: 20261122 },
        );
    });
});

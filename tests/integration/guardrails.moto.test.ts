// The guardrails end to end against moto server: keep tag, newest per group, running/stopped/terminated
// instances, and launch templates' default and latest versions.

import * as assert from "node:assert/strict";
import {
    CreateAutoScalingGroupCommand,
    CreateLaunchConfigurationCommand,
} from "@aws-sdk/client-auto-scaling";
import {
    CreateLaunchTemplateCommand,
    CreateLaunchTemplateVersionCommand,
    DescribeImagesCommand,
    type EC2Client,
    ModifyImageAttributeCommand,
    RunInstancesCommand,
    StopInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { PutParameterCommand } from "@aws-sdk/client-ssm";
import { type CleanupSettings, settingsWith } from "../../functions/core/ami/settings";
import type { UsageClients } from "../../functions/core/ami/usage";
import {
    hoursAgo,
    MOTO_ACCOUNT_ID,
    type Moto,
    motoClients,
    type SeedAmi,
    startMoto,
} from "../../runner/moto";
import { runCleanup } from "../../runner/run";

const ami = (id: string, name: string, hours: number, tags?: Record<string, string>): SeedAmi => ({
    ami_id: id,
    name,
    owner_id: MOTO_ACCOUNT_ID,
    creation_date: hoursAgo(hours),
    state: "available",
    ...(tags ? { tags } : {}),
});

const SEED = [
    ami("ami-0a000000000000001", "web-20261001-1200", 1000, { "image-janitor:keep": "true" }),
    ami("ami-0a000000000000002", "web-20261002-1200", 990, { "image-janitor:keep": "false" }),
    ami("ami-0a000000000000003", "web-20261003-1200", 980),
    ami("ami-0a000000000000004", "web-20261004-1200", 970),
    ami("ami-0a000000000000005", "api-1", 900),
    ami("ami-0a000000000000006", "api-2", 890),
    ami("ami-0a000000000000007", "api-3", 880),
    ami("ami-0a000000000000008", "api-4", 870),
    ami("ami-0a000000000000009", "api-5", 860),
    ami("ami-0a00000000000000a", "api-6", 850),
];

describe("guardrails against moto server", function () {
    this.timeout(120_000);
    let moto: Moto;
    let ec2: EC2Client;
    let clients: UsageClients;
    const instances: Record<string, string> = {};
    let templateId = "";

    before(async () => {
        moto = await startMoto({ amis: SEED });
        clients = motoClients(moto.endpoint);
        ec2 = clients.ec2;
        const run = async (imageId: string) =>
            (
                await ec2.send(
                    new RunInstancesCommand({
                        ImageId: imageId,
                        MinCount: 1,
                        MaxCount: 1,
                        InstanceType: "t3.micro",
                    }),
                )
            ).Instances?.[0]?.InstanceId ?? "";
        instances.running = await run("ami-0a000000000000005");
        instances.stopped = await run("ami-0a000000000000006");
        await ec2.send(new StopInstancesCommand({ InstanceIds: [instances.stopped] }));
        instances.terminated = await run("ami-0a000000000000007");
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instances.terminated] }));
        // Version 1 (the default) names ami-8; version 2 (the latest) names ami-9.
        const lt = await ec2.send(
            new CreateLaunchTemplateCommand({
                LaunchTemplateName: "app",
                LaunchTemplateData: { ImageId: "ami-0a000000000000008" },
            }),
        );
        templateId = lt.LaunchTemplate?.LaunchTemplateId ?? "";
        await ec2.send(
            new CreateLaunchTemplateVersionCommand({
                LaunchTemplateId: templateId,
                LaunchTemplateData: { ImageId: "ami-0a000000000000009" },
            }),
        );
    });
    after(async () => moto?.stop());

    it("a dry run reports every kept AMI with its reason and deletes nothing", async () => {
        const summary = await runCleanup({
            clients,
            settings: settingsWith({ validHours: 24, keepLatest: 1, dryRun: true }),
        });
        assert.deepEqual(summary.skipped, [
            { imageId: "ami-0a000000000000001", reason: "keep-tag" },
            { imageId: "ami-0a000000000000004", reason: "keep-latest" },
            { imageId: "ami-0a000000000000005", reason: `in-use:instance ${instances.running}` },
            { imageId: "ami-0a000000000000006", reason: `in-use:instance ${instances.stopped}` },
            { imageId: "ami-0a000000000000008", reason: `in-use:launch-template ${templateId} version 1` },
            { imageId: "ami-0a000000000000009", reason: `in-use:launch-template ${templateId} version 2` },
            { imageId: "ami-0a00000000000000a", reason: "keep-latest" },
        ]);
        assert.deepEqual(
            summary.wouldDelete.map((d) => d.imageId),
            ["ami-0a000000000000002", "ami-0a000000000000003", "ami-0a000000000000007"],
        );
        assert.equal(
            (await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images?.length,
            SEED.length,
        );
    });

    it("deletes only what no guardrail keeps", async () => {
        const summary = await runCleanup({
            clients,
            settings: settingsWith({ validHours: 24, keepLatest: 1 }),
        });
        assert.deepEqual(summary.failed, []);
        const left = ((await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [])
            .map((i) => i.ImageId)
            .sort();
        assert.deepEqual(
            left,
            SEED.map((s) => s.ami_id).filter(
                (id) =>
                    !["ami-0a000000000000002", "ami-0a000000000000003", "ami-0a000000000000007"].includes(id),
            ),
        );
    });

    it("with in-use protection off, deletes AMIs that instances and launch templates use", async () => {
        const summary = await runCleanup({
            clients,
            settings: settingsWith({ validHours: 24, keepLatest: 1, protectInUse: false }),
        });
        assert.deepEqual(summary.deleted.map((d) => d.imageId).sort(), [
            "ami-0a000000000000005",
            "ami-0a000000000000006",
            "ami-0a000000000000008",
            "ami-0a000000000000009",
        ]);
    });
});

// Every place AWS launches from, as moto has them: Auto Scaling groups (at desired capacity 0) with a launch
// configuration, pinned to a launch template version that is neither default nor latest, or naming one in a
// mixed-instances override; a launch configuration no group uses; SSM parameters of data type aws:ec2:image;
// launch permissions. moto's own divergences (5.1's times and overrides, the DataType filter) are mended by the
// proxy in runner/motoProxy.ts.
const id = (n: number) => `ami-0b0000000000000${n.toString(16).padStart(2, "0")}`;
const LAUNCH = Array.from({ length: 15 }, (_, n) => ami(id(n + 1), `launch-${n + 1}`, 500));

describe("every place AWS can launch from, against moto server", function () {
    this.timeout(180_000);
    let moto: Moto;
    let clients: UsageClients;
    let instanceId = "";
    const lt: Record<string, string> = {};

    before(async () => {
        moto = await startMoto({ amis: LAUNCH });
        clients = motoClients(moto.endpoint);
        const { ec2, autoScaling, ssm } = clients;
        const zones = { AvailabilityZones: ["us-east-1a"], MinSize: 0, MaxSize: 0, DesiredCapacity: 0 };
        await autoScaling.send(
            new CreateLaunchConfigurationCommand({
                LaunchConfigurationName: "lc-used",
                ImageId: id(1),
                InstanceType: "t3.micro",
            }),
        );
        await autoScaling.send(
            new CreateAutoScalingGroupCommand({
                AutoScalingGroupName: "asg-lc",
                LaunchConfigurationName: "lc-used",
                ...zones,
            }),
        );
        await autoScaling.send(
            new CreateLaunchConfigurationCommand({
                LaunchConfigurationName: "lc-spare",
                ImageId: id(2),
                InstanceType: "t3.micro",
            }),
        );
        const template = async (name: string, images: string[]) => {
            const created = await ec2.send(
                new CreateLaunchTemplateCommand({
                    LaunchTemplateName: name,
                    LaunchTemplateData: { ImageId: images[0] },
                }),
            );
            const ltId = created.LaunchTemplate?.LaunchTemplateId ?? "";
            for (const image of images.slice(1))
                await ec2.send(
                    new CreateLaunchTemplateVersionCommand({
                        LaunchTemplateId: ltId,
                        LaunchTemplateData: { ImageId: image },
                    }),
                );
            lt[name] = ltId;
        };
        // Version 1 is the default, 3 the latest; the groups pin version 2.
        await template("pinned", [id(3), id(4), id(5)]);
        await template("mixed", [id(6), id(7), id(8)]);
        await autoScaling.send(
            new CreateAutoScalingGroupCommand({
                AutoScalingGroupName: "asg-pinned",
                LaunchTemplate: { LaunchTemplateName: "pinned", Version: "2" },
                ...zones,
            }),
        );
        await autoScaling.send(
            new CreateAutoScalingGroupCommand({
                AutoScalingGroupName: "asg-mixed",
                MixedInstancesPolicy: {
                    LaunchTemplate: {
                        LaunchTemplateSpecification: { LaunchTemplateId: lt.mixed, Version: "$Default" },
                        Overrides: [
                            {
                                InstanceType: "t3.small",
                                LaunchTemplateSpecification: { LaunchTemplateId: lt.mixed, Version: "2" },
                            },
                        ],
                    },
                },
                ...zones,
            }),
        );
        await ssm.send(
            new PutParameterCommand({
                Name: "/golden/app/web/ami",
                Type: "String",
                DataType: "aws:ec2:image",
                Value: id(9),
            }),
        );
        // Text that happens to hold an AMI id publishes nothing.
        await ssm.send(new PutParameterCommand({ Name: "/notes/last-ami", Type: "String", Value: id(10) }));
        await ec2.send(
            new ModifyImageAttributeCommand({
                ImageId: id(11),
                LaunchPermission: { Add: [{ UserId: "210987654321" }] },
            }),
        );
        await ec2.send(
            new ModifyImageAttributeCommand({
                ImageId: id(12),
                LaunchPermission: { Add: [{ Group: "all" }] },
            }),
        );
        const run = await ec2.send(
            new RunInstancesCommand({ ImageId: id(14), MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }),
        );
        instanceId = run.Instances?.[0]?.InstanceId ?? "";
    });
    after(async () => moto?.stop());

    const ALL_OFF = { protectInUse: false, keepShared: false, keepPublic: false };
    const dry = (changes: Partial<CleanupSettings>) =>
        runCleanup({ clients, settings: settingsWith({ validHours: 24, dryRun: true, ...changes }) });

    it("keeps, each with its own reason, every AMI something can still launch from, and deletes the rest", async () => {
        const s = await dry({});
        assert.deepEqual(s.skipped, [
            { imageId: id(1), reason: "in-use:launch-configuration lc-used (auto-scaling group asg-lc)" },
            { imageId: id(2), reason: "in-use:launch-configuration lc-spare (no group)" },
            { imageId: id(3), reason: `in-use:launch-template ${lt.pinned} version 1` },
            { imageId: id(4), reason: `in-use:launch-template ${lt.pinned} version 2` },
            { imageId: id(5), reason: `in-use:launch-template ${lt.pinned} version 3` },
            { imageId: id(6), reason: `in-use:launch-template ${lt.mixed} version 1` },
            { imageId: id(7), reason: `in-use:launch-template ${lt.mixed} version 2` },
            { imageId: id(8), reason: `in-use:launch-template ${lt.mixed} version 3` },
            { imageId: id(9), reason: "in-use:ssm-parameter /golden/app/web/ami" },
            { imageId: id(12), reason: "public" },
            { imageId: id(14), reason: `in-use:instance ${instanceId}` },
            { imageId: id(11), reason: "shared:account 210987654321" },
        ]);
        assert.deepEqual(
            s.wouldDelete.map((d) => d.imageId),
            [id(10), id(13), id(15)],
        );
    });

    const alone: [string, Partial<CleanupSettings>, number[]][] = [
        [
            "protectInUse",
            { protectInUse: true, protectUnattachedLaunchConfigurations: false },
            [1, 3, 4, 5, 6, 7, 8, 9, 14],
        ],
        ["protectUnattachedLaunchConfigurations", { protectInUse: true }, [1, 2, 3, 4, 5, 6, 7, 8, 9, 14]],
        ["keepPublic", { keepPublic: true }, [12]],
        ["keepShared", { keepShared: true }, [11]],
    ];
    for (const [rule, on, keptIds] of alone) {
        it(`keeps exactly what ${rule} protects when it is the only rule on`, async () => {
            const s = await dry({ ...ALL_OFF, ...on });
            assert.deepEqual(s.skipped.map((k) => k.imageId).sort(), keptIds.map(id).sort());
            assert.equal(s.wouldDelete.length, LAUNCH.length - keptIds.length);
        });
    }

    it("with every rule off, would delete them all", async () => {
        const s = await dry(ALL_OFF);
        assert.deepEqual([s.skipped, s.wouldDelete.length], [[], LAUNCH.length]);
    });

    it("deletes only what nothing can launch from", async () => {
        const s = await runCleanup({ clients, settings: settingsWith({ validHours: 24 }) });
        assert.deepEqual([s.failed, s.deleted.map((d) => d.imageId)], [[], [id(10), id(13), id(15)]]);
        const left = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [])
            .map((i) => i.ImageId)
            .sort();
        assert.deepEqual(
            left,
            LAUNCH.map((a) => a.ami_id).filter((x) => ![id(10), id(13), id(15)].includes(x)),
        );
    });
});

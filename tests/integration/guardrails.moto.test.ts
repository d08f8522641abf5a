// The guardrails end to end against moto server: keep tag, newest per group, running/stopped/terminated
// instances, and launch templates' default and latest versions.

import * as assert from "node:assert/strict";
import {
    CreateLaunchTemplateCommand,
    CreateLaunchTemplateVersionCommand,
    DescribeImagesCommand,
    type EC2Client,
    RunInstancesCommand,
    StopInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import { hoursAgo, MOTO_ACCOUNT_ID, type Moto, motoEc2, type SeedAmi, startMoto } from "../../runner/moto";
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
    const instances: Record<string, string> = {};
    let templateId = "";

    before(async () => {
        moto = await startMoto({ amis: SEED });
        ec2 = motoEc2(moto.endpoint);
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
            ec2,
            settings: settingsWith({ validHours: 24, keepLatest: 1, dryRun: true }),
        });
        assert.deepEqual(summary.skipped, [
            { imageId: "ami-0a000000000000001", reason: "keep-tag" },
            { imageId: "ami-0a000000000000004", reason: "keep-latest" },
            { imageId: "ami-0a000000000000005", reason: `in-use:instance ${instances.running}` },
            { imageId: "ami-0a000000000000006", reason: `in-use:instance ${instances.stopped}` },
            { imageId: "ami-0a000000000000008", reason: `in-use:launch-template ${templateId}` },
            { imageId: "ami-0a000000000000009", reason: `in-use:launch-template ${templateId}` },
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
        const summary = await runCleanup({ ec2, settings: settingsWith({ validHours: 24, keepLatest: 1 }) });
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
            ec2,
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

// What AWS can still launch from: the AMIs that instances and launch templates name, looked up once per listing.
import {
    DescribeLaunchTemplateVersionsCommand,
    type EC2Client,
    paginateDescribeInstances,
    paginateDescribeLaunchTemplates,
} from "@aws-sdk/client-ec2";
import { calling } from "../shared/errors";
import type { Usage } from "./selection";

const PAGE_SIZE = 1000;
const LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];

/** AMIs that a not-terminated instance runs, or that a launch template's default or latest version names. */
export async function findImagesInUse(ec2: EC2Client): Promise<Usage> {
    const usage: Usage = { instances: new Map(), launchTemplates: new Map() };
    const subject = "finding the AMIs in use";
    await calling(subject, "DescribeInstances", async () => {
        const reservations = paginateDescribeInstances(
            { client: ec2, pageSize: PAGE_SIZE },
            { Filters: [{ Name: "instance-state-name", Values: LIVE_INSTANCE_STATES }] },
        );
        for await (const page of reservations) {
            for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
                if (instance.ImageId && instance.InstanceId && !usage.instances.has(instance.ImageId)) {
                    usage.instances.set(instance.ImageId, instance.InstanceId);
                }
            }
        }
    });
    const templates: string[] = [];
    await calling(subject, "DescribeLaunchTemplates", async () => {
        for await (const page of paginateDescribeLaunchTemplates({ client: ec2, pageSize: 200 }, {}))
            for (const t of page.LaunchTemplates ?? [])
                if (t.LaunchTemplateId) templates.push(t.LaunchTemplateId);
    });
    for (const id of templates) {
        const versions = await calling(subject, "DescribeLaunchTemplateVersions", () =>
            ec2.send(
                new DescribeLaunchTemplateVersionsCommand({
                    LaunchTemplateId: id,
                    Versions: ["$Default", "$Latest"],
                }),
            ),
        );
        for (const v of versions.LaunchTemplateVersions ?? []) {
            const imageId = v.LaunchTemplateData?.ImageId;
            if (imageId?.startsWith("ami-") && !usage.launchTemplates.has(imageId))
                usage.launchTemplates.set(imageId, id);
        }
    }
    return usage;
}

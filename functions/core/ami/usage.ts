// What AWS can still launch from: every place an instance can come from an AMI, looked up once per listing, each
// lookup paginated. Instances, launch templates (default, latest, and every version a group or fleet names),
// launch configurations, EC2 Fleets, Spot Fleets, and SSM parameters of data type aws:ec2:image.
import {
    type AutoScalingClient,
    paginateDescribeAutoScalingGroups,
    paginateDescribeLaunchConfigurations,
} from "@aws-sdk/client-auto-scaling";
import {
    type EC2Client,
    type LaunchTemplateVersion,
    paginateDescribeFleets,
    paginateDescribeInstances,
    paginateDescribeLaunchTemplateVersions,
    paginateDescribeSpotFleetRequests,
} from "@aws-sdk/client-ec2";
import { GetParametersCommand, paginateDescribeParameters, type SSMClient } from "@aws-sdk/client-ssm";
import { calling, errorName } from "../shared/errors";
import type { Usage } from "./selection";
import type { CleanupSettings } from "./settings";

/** The clients the lookups use; the list task's entry creates them once. */
export interface UsageClients {
    ec2: EC2Client;
    autoScaling: AutoScalingClient;
    ssm: SSMClient;
}

/** A launch template as a group or fleet names it: by id or name, at a version (absent means `$Default`). */
interface TemplateRef {
    id?: string;
    name?: string;
    version?: string;
}

const LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];
/** Fleets that may still launch: the others are deleted, failed or winding down. */
const LIVE_FLEET_STATES = new Set(["submitted", "active", "modifying"]);
/** DescribeLaunchTemplateVersions' largest page; GetParameters takes at most 10 names. */
const TEMPLATE_PAGE = 200;
const SSM_NAMES_PER_CALL = 10;
const TEMPLATE_GONE = new Set([
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.VersionNotFound",
    "InvalidLaunchTemplateId.Malformed",
]);
const SUBJECT = "finding the AMIs in use";

const isAmi = (id: string | undefined): id is string => !!id && id.startsWith("ami-");

/** Records the first reason found for each AMI. */
function recorder(usage: Usage) {
    return (imageId: string | undefined, reason: string) => {
        if (isAmi(imageId) && !usage.has(imageId)) usage.set(imageId, reason);
    };
}

async function instances(ec2: EC2Client, use: ReturnType<typeof recorder>) {
    await calling(SUBJECT, "DescribeInstances", async () => {
        const pages = paginateDescribeInstances(
            { client: ec2, pageSize: 1000 },
            { Filters: [{ Name: "instance-state-name", Values: LIVE_INSTANCE_STATES }] },
        );
        for await (const page of pages)
            for (const i of (page.Reservations ?? []).flatMap((r) => r.Instances ?? []))
                use(i.ImageId, `in-use:instance ${i.InstanceId}`);
    });
}

const templateReason = (v: LaunchTemplateVersion) =>
    `in-use:launch-template ${v.LaunchTemplateId} version ${v.VersionNumber}`;

/** Every template's default and latest version, in one account-wide listing. */
async function defaultAndLatestVersions(ec2: EC2Client, use: ReturnType<typeof recorder>) {
    await calling(SUBJECT, "DescribeLaunchTemplateVersions", async () => {
        const pages = paginateDescribeLaunchTemplateVersions(
            { client: ec2, pageSize: TEMPLATE_PAGE },
            // ResolveAlias: a template may name its AMI as resolve:ssm:<parameter>.
            { Versions: ["$Default", "$Latest"], ResolveAlias: true },
        );
        for await (const page of pages)
            for (const v of page.LaunchTemplateVersions ?? [])
                use(v.LaunchTemplateData?.ImageId, templateReason(v));
    });
}

/** The numbered versions groups and fleets pin; `$Default` and `$Latest` are already looked up. */
async function pinnedVersions(ec2: EC2Client, refs: TemplateRef[], use: ReturnType<typeof recorder>) {
    const byTemplate = new Map<string, { ref: TemplateRef; versions: Set<string> }>();
    for (const ref of refs) {
        if (!ref.version || !/^\d+$/.test(ref.version) || (!ref.id && !ref.name)) continue;
        const key = ref.id ? `id:${ref.id}` : `name:${ref.name}`;
        const entry = byTemplate.get(key) ?? { ref, versions: new Set<string>() };
        entry.versions.add(ref.version);
        byTemplate.set(key, entry);
    }
    const describe = async (ref: TemplateRef, versions: string[]) => {
        const pages = paginateDescribeLaunchTemplateVersions(
            { client: ec2, pageSize: TEMPLATE_PAGE },
            {
                ...(ref.id ? { LaunchTemplateId: ref.id } : { LaunchTemplateName: ref.name }),
                Versions: versions,
                ResolveAlias: true,
            },
        );
        for await (const page of pages)
            for (const v of page.LaunchTemplateVersions ?? [])
                use(v.LaunchTemplateData?.ImageId, templateReason(v));
    };
    for (const { ref, versions } of byTemplate.values()) {
        await calling(SUBJECT, "DescribeLaunchTemplateVersions", async () => {
            try {
                await describe(ref, [...versions]);
            } catch (err) {
                if (!TEMPLATE_GONE.has(errorName(err))) throw err;
                // One version or the template is gone: the others still count, each asked on its own.
                for (const v of versions) {
                    try {
                        await describe(ref, [v]);
                    } catch (e) {
                        if (!TEMPLATE_GONE.has(errorName(e))) throw e;
                    }
                }
            }
        });
    }
}

interface GroupsFound {
    refs: TemplateRef[];
    launchConfigurations: Map<string, string>;
}

/** Auto Scaling groups: the templates they name (mixed-instances overrides included) and their launch configurations. */
async function autoScalingGroups(autoScaling: AutoScalingClient): Promise<GroupsFound> {
    const found: GroupsFound = { refs: [], launchConfigurations: new Map() };
    const ref = (t?: { LaunchTemplateId?: string; LaunchTemplateName?: string; Version?: string }) => {
        if (t) found.refs.push({ id: t.LaunchTemplateId, name: t.LaunchTemplateName, version: t.Version });
    };
    await calling(SUBJECT, "DescribeAutoScalingGroups", async () => {
        for await (const page of paginateDescribeAutoScalingGroups(
            { client: autoScaling, pageSize: 100 },
            {},
        )) {
            for (const g of page.AutoScalingGroups ?? []) {
                const name = g.AutoScalingGroupName ?? "";
                if (g.LaunchConfigurationName)
                    found.launchConfigurations.set(g.LaunchConfigurationName, name);
                ref(g.LaunchTemplate);
                const mixed = g.MixedInstancesPolicy?.LaunchTemplate;
                ref(mixed?.LaunchTemplateSpecification);
                for (const o of mixed?.Overrides ?? []) ref(o.LaunchTemplateSpecification);
            }
        }
    });
    return found;
}

async function launchConfigurations(
    autoScaling: AutoScalingClient,
    used: Map<string, string>,
    includeUnattached: boolean,
    use: ReturnType<typeof recorder>,
) {
    await calling(SUBJECT, "DescribeLaunchConfigurations", async () => {
        for await (const page of paginateDescribeLaunchConfigurations(
            { client: autoScaling, pageSize: 100 },
            {},
        )) {
            for (const lc of page.LaunchConfigurations ?? []) {
                const name = lc.LaunchConfigurationName ?? "";
                const group = used.get(name);
                if (group)
                    use(lc.ImageId, `in-use:launch-configuration ${name} (auto-scaling group ${group})`);
                else if (includeUnattached) use(lc.ImageId, `in-use:launch-configuration ${name} (no group)`);
            }
        }
    });
}

/** EC2 Fleets and Spot Fleets that may still launch: the AMIs they name, and the templates they use. */
async function fleets(ec2: EC2Client, use: ReturnType<typeof recorder>): Promise<TemplateRef[]> {
    const refs: TemplateRef[] = [];
    const ref = (t?: { LaunchTemplateId?: string; LaunchTemplateName?: string; Version?: string }) => {
        if (t) refs.push({ id: t.LaunchTemplateId, name: t.LaunchTemplateName, version: t.Version });
    };
    await calling(SUBJECT, "DescribeFleets", async () => {
        for await (const page of paginateDescribeFleets({ client: ec2, pageSize: 1000 }, {})) {
            for (const f of page.Fleets ?? []) {
                if (!LIVE_FLEET_STATES.has(f.FleetState ?? "")) continue;
                for (const c of f.LaunchTemplateConfigs ?? []) {
                    ref(c.LaunchTemplateSpecification);
                    for (const o of c.Overrides ?? []) use(o.ImageId, `in-use:ec2-fleet ${f.FleetId}`);
                }
            }
        }
    });
    await calling(SUBJECT, "DescribeSpotFleetRequests", async () => {
        for await (const page of paginateDescribeSpotFleetRequests({ client: ec2, pageSize: 1000 }, {})) {
            for (const r of page.SpotFleetRequestConfigs ?? []) {
                if (!LIVE_FLEET_STATES.has(r.SpotFleetRequestState ?? "")) continue;
                const config = r.SpotFleetRequestConfig;
                for (const spec of config?.LaunchSpecifications ?? [])
                    use(spec.ImageId, `in-use:spot-fleet ${r.SpotFleetRequestId}`);
                for (const c of config?.LaunchTemplateConfigs ?? []) ref(c.LaunchTemplateSpecification);
            }
        }
    });
    return refs;
}

/** SSM parameters of data type aws:ec2:image, in every path: the usual way to publish a golden AMI id. */
async function ssmParameters(ssm: SSMClient, use: ReturnType<typeof recorder>) {
    const names: string[] = [];
    await calling(SUBJECT, "DescribeParameters", async () => {
        const pages = paginateDescribeParameters(
            { client: ssm, pageSize: 50 },
            { ParameterFilters: [{ Key: "DataType", Option: "Equals", Values: ["aws:ec2:image"] }] },
        );
        for await (const page of pages) for (const p of page.Parameters ?? []) if (p.Name) names.push(p.Name);
    });
    for (let i = 0; i < names.length; i += SSM_NAMES_PER_CALL) {
        const batch = names.slice(i, i + SSM_NAMES_PER_CALL);
        const res = await calling(SUBJECT, "GetParameters", () =>
            ssm.send(new GetParametersCommand({ Names: batch })),
        );
        for (const p of res.Parameters ?? []) use(p.Value, `in-use:ssm-parameter ${p.Name}`);
    }
}

/** Every AMI AWS can still launch from, with the first place found that names it. */
export async function findImagesInUse(
    clients: UsageClients,
    settings: Pick<CleanupSettings, "protectUnattachedLaunchConfigurations">,
): Promise<Usage> {
    const usage: Usage = new Map();
    const use = recorder(usage);
    await instances(clients.ec2, use);
    await defaultAndLatestVersions(clients.ec2, use);
    const groups = await autoScalingGroups(clients.autoScaling);
    await launchConfigurations(
        clients.autoScaling,
        groups.launchConfigurations,
        settings.protectUnattachedLaunchConfigurations,
        use,
    );
    const fleetRefs = await fleets(clients.ec2, use);
    await pinnedVersions(clients.ec2, [...groups.refs, ...fleetRefs], use);
    await ssmParameters(clients.ssm, use);
    return usage;
}

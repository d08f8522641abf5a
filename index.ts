// image-janitor's Pulumi program: reads and validates config, builds the components, exports their outputs.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AmiCleanup } from "./components/amiCleanup";
import { readJanitorConfig } from "./components/config";
import { SelfEmptyingRepository } from "./components/selfEmptyingRepository";

const config = readJanitorConfig(
    new pulumi.Config(),
    pulumi.getStack(),
    new pulumi.Config("aws").get("region"),
);

// One cleanup per region, each through its own explicit provider: EC2's quotas and throttles are per region.
const cleanups = Object.fromEntries(
    config.regions.map((region) => {
        const provider = new aws.Provider(`aws-${region}`, { region: region as aws.Region });
        const cleanup = new AmiCleanup(
            `ami-cleanup-${region}`,
            {
                settings: config.settings,
                schedule: config.schedule,
                logRetentionDays: config.logRetentionDays,
                ...(config.alertEmail || config.alertTopicArn
                    ? {
                          alerts: config.alertTopicArn
                              ? { topicArn: config.alertTopicArn }
                              : { email: config.alertEmail },
                      }
                    : {}),
            },
            { providers: [provider] },
        );
        return [region, cleanup];
    }),
);

const repository = new SelfEmptyingRepository("images", {
    repositoryName: config.repositoryName,
    keepImages: config.keepImages,
    untaggedExpiryDays: config.untaggedExpiryDays,
    immutableTags: config.immutableTags,
    emptyMode: config.ecrEmptyMode,
    logRetentionDays: config.logRetentionDays,
});

const byRegion = <T>(pick: (c: AmiCleanup) => pulumi.Output<T>) =>
    pulumi.output(Object.fromEntries(Object.entries(cleanups).map(([region, c]) => [region, pick(c)])));

export const stateMachineArns = byRegion((c) => c.stateMachineArn);
export const functionNames = byRegion((c) => c.functionNames);
export const scheduleNames = byRegion((c) => c.scheduleName);
export const logGroupNames = byRegion((c) => c.logGroupNames);
export const alertTopicArns = byRegion((c) => c.alertTopicArn);
export const recycleBinRuleArns = byRegion((c) => c.recycleBinRuleArns);
export const restorePolicyArns = byRegion((c) => c.restorePolicyArn);
export const repositoryName = repository.repositoryName;
export const repositoryUrl = repository.repositoryUrl;
export const ecrEmptyMode = config.ecrEmptyMode;

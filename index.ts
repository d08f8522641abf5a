// image-janitor's Pulumi program: reads and validates config, builds the components, exports their outputs.
import * as pulumi from "@pulumi/pulumi";
import { AmiCleanup } from "./components/amiCleanup";
import { readJanitorConfig } from "./components/config";
import { SelfEmptyingRepository } from "./components/selfEmptyingRepository";

const config = readJanitorConfig(new pulumi.Config(), pulumi.getStack());

const cleanup = new AmiCleanup("ami-cleanup", {
    validHours: config.validHours,
    schedule: config.schedule,
    dryRun: config.dryRun,
    maxConcurrency: config.maxConcurrency,
    logRetentionDays: config.logRetentionDays,
    keepTagKey: config.keepTagKey,
    keepLatest: config.keepLatest,
    groupByTag: config.groupByTag,
    protectInUse: config.protectInUse,
    ...(config.alertEmail || config.alertTopicArn
        ? { alerts: config.alertTopicArn ? { topicArn: config.alertTopicArn } : { email: config.alertEmail } }
        : {}),
});

const repository = new SelfEmptyingRepository("images", {
    repositoryName: config.repositoryName,
    keepImages: config.keepImages,
    untaggedExpiryDays: config.untaggedExpiryDays,
    immutableTags: config.immutableTags,
    emptyMode: config.ecrEmptyMode,
    logRetentionDays: config.logRetentionDays,
});

export const stateMachineArn = cleanup.stateMachineArn;
export const functionNames = cleanup.functionNames;
export const scheduleName = cleanup.scheduleName;
export const logGroupNames = cleanup.logGroupNames;
export const alertTopicArn = cleanup.alertTopicArn;
export const repositoryName = repository.repositoryName;
export const repositoryUrl = repository.repositoryUrl;
export const ecrEmptyMode = config.ecrEmptyMode;

// SelfEmptyingRepository: an ECR repository (awsx) that is emptied right before Pulumi deletes it, by a dynamic
// resource (default) or by a CloudFormation custom resource backed by a Lambda function.
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { customResourceTemplate, EMPTIER_TIMEOUT_SECONDS } from "./cfnTemplates";
import { bundledFunction } from "./lambda";
import { emptyRepositoryPolicy } from "./policies";
import { RepositoryEmptier } from "./repositoryEmptier";

export const EMPTY_MODES = ["dynamic", "cloudformation"] as const;
export type EmptyMode = (typeof EMPTY_MODES)[number];

export interface SelfEmptyingRepositoryArgs {
    /** The repository's name. Defaults to the component's name. */
    repositoryName?: pulumi.Input<string>;
    /** Keep only the newest N images (any tag status); 0 turns the rule off. Defaults to `20`. */
    keepImages?: number;
    /** Expire untagged images after N days; 0 turns the rule off. Defaults to `14`. */
    untaggedExpiryDays?: number;
    /** Tags cannot be overwritten once pushed. Defaults to `false`. */
    immutableTags?: boolean;
    /** What empties the repository before Pulumi deletes it. Defaults to `"dynamic"`. */
    emptyMode?: EmptyMode;
    /** Retention of the emptying function's logs in `cloudformation` mode, in days. Defaults to `30`. */
    logRetentionDays?: pulumi.Input<number>;
}

/** The lifecycle rules awsx turns into the repository's lifecycle policy; rules set to 0 are left out. */
export function lifecycleRules(
    keepImages: number,
    untaggedExpiryDays: number,
): awsx.types.input.ecr.LifecyclePolicyRuleArgs[] {
    const rules: awsx.types.input.ecr.LifecyclePolicyRuleArgs[] = [];
    if (untaggedExpiryDays > 0) {
        rules.push({
            tagStatus: "untagged",
            maximumAgeLimit: untaggedExpiryDays,
            description: `Expire untagged images after ${untaggedExpiryDays} days`,
        });
    }
    if (keepImages > 0) {
        rules.push({
            tagStatus: "any",
            maximumNumberOfImages: keepImages,
            description: `Keep the newest ${keepImages} images`,
        });
    }
    return rules;
}

export class SelfEmptyingRepository extends pulumi.ComponentResource {
    public readonly repositoryName: pulumi.Output<string>;
    public readonly repositoryUrl: pulumi.Output<string>;
    public readonly repositoryArn: pulumi.Output<string>;

    constructor(name: string, args: SelfEmptyingRepositoryArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        const {
            emptyMode = "dynamic",
            keepImages = 20,
            untaggedExpiryDays = 14,
            immutableTags = false,
            logRetentionDays = 30,
        } = args;
        // Checked before anything is registered.
        if (!EMPTY_MODES.includes(emptyMode)) {
            throw new Error(
                `emptyMode must be one of ${EMPTY_MODES.join(", ")} (got ${JSON.stringify(emptyMode)})`,
            );
        }
        super("image-janitor:ecr:SelfEmptyingRepository", name, {}, opts);
        const parent = { parent: this };

        const rules = lifecycleRules(keepImages, untaggedExpiryDays);
        const repo = new awsx.ecr.Repository(
            name,
            {
                name: args.repositoryName ?? name,
                // Off on purpose: emptying is this component's job, and it reports what it deleted.
                forceDelete: false,
                imageScanningConfiguration: { scanOnPush: true },
                imageTagMutability: immutableTags ? "IMMUTABLE" : "MUTABLE",
                lifecyclePolicy: rules.length > 0 ? { rules } : { skip: true },
            },
            parent,
        );
        // Data flow from the repository's own outputs orders every delete below before the repository's.
        const repository = repo.repository;
        const repositoryName = repository.name;
        const registryId = repository.registryId;

        if (emptyMode === "dynamic") {
            new RepositoryEmptier(
                `${name}-emptier`,
                { repositoryName, registryId, region: aws.getRegionOutput({}, parent).region },
                { parent: this, dependsOn: [repo] },
            );
        } else {
            const { fn } = bundledFunction(
                `${name}-emptier`,
                {
                    entry: "empty-repository-cfn",
                    description:
                        "image-janitor: empties the ECR repository when its CloudFormation custom resource is deleted",
                    timeout: EMPTIER_TIMEOUT_SECONDS,
                    memorySize: 256,
                    logRetentionDays,
                    policy: (logGroupArn) =>
                        pulumi
                            .all([repository.arn, logGroupArn])
                            .apply(([repoArn, logArn]) => emptyRepositoryPolicy(repoArn, `${logArn}:*`)),
                },
                parent,
            );
            new aws.cloudformation.Stack(
                `${name}-emptier`,
                {
                    templateBody: pulumi
                        .all([fn.arn, repositoryName, registryId])
                        .apply(([serviceToken, repoName, registry]) =>
                            JSON.stringify(
                                customResourceTemplate({
                                    serviceToken,
                                    repositoryName: repoName,
                                    registryId: registry,
                                }),
                            ),
                        ),
                },
                // Deleted before the function, and so before its permissions (the function depends on them).
                { parent: this, dependsOn: [repo, fn] },
            );
        }

        this.repositoryName = repositoryName;
        this.repositoryUrl = repo.url;
        this.repositoryArn = repository.arn;
        this.registerOutputs({
            repositoryName: this.repositoryName,
            repositoryUrl: this.repositoryUrl,
            repositoryArn: this.repositoryArn,
        });
    }
}

// AmiCleanup: the scheduled state machine that deregisters expired AMIs and deletes their snapshots.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { CleanupSettings } from "../functions/core/ami/settings";
import { buildDefinition } from "./definition";
import { bundledFunction } from "./lambda";
import {
    alertTopicPolicy,
    deleteSnapshotsPolicy,
    deregisterImagePolicy,
    executionAlertPattern,
    listImagesPolicy,
    type PolicyDocument,
    restorePolicy,
    type Scope,
    schedulerPolicy,
    stateMachinePolicy,
    stateMachineSelfPolicy,
} from "./policies";
import { RECYCLE_BIN_RESOURCES, type RecycleBinKey, recycleBinRuleArgs } from "./recycleBin";
import { serviceRole } from "./serviceRole";
import { CLEANUP_COMPONENT_TAG } from "./tags";

/** The three Lambda functions, keyed the same way in every output. */
export type FunctionKey = "list" | "deregister" | "snapshots";

export interface AmiCleanupArgs {
    /** What the cleanup deletes and keeps, parsed by the settings module; the component adds no defaults. */
    settings: CleanupSettings;
    /** EventBridge Scheduler expression that starts a run. Defaults to `rate(1 hour)`. */
    schedule?: pulumi.Input<string>;
    /** Retention of every log group the component creates, in days. Defaults to `30`. */
    logRetentionDays?: pulumi.Input<number>;
    /**
     * Notify when a run fails, times out or is aborted: `email` creates a topic with that subscription, `topicArn`
     * uses an existing topic (whose policy must let EventBridge publish). Defaults to no alerts.
     */
    alerts?: { email?: string; topicArn?: string };
}

interface FunctionSpec {
    entry: string;
    description: string;
    timeout: number;
    memorySize: number;
    policy: (logGroupArn: string, scope: Scope, settings: CleanupSettings) => PolicyDocument;
}

const FUNCTIONS: Record<FunctionKey, FunctionSpec> = {
    list: {
        entry: "list-expired-images",
        description: "image-janitor: lists the account's AMIs older than validHours, one page at a time",
        // A region's 50,000 AMIs are read on every page: 50 DescribeImages pages, held in memory.
        timeout: 900,
        memorySize: 1024,
        policy: listImagesPolicy,
    },
    deregister: {
        entry: "deregister-image",
        description: "image-janitor: deregisters one batch of AMIs",
        // At EC2's 5 calls/s shared by every batch, a batch can take minutes; the pool stops 30 s before this.
        timeout: 900,
        memorySize: 256,
        policy: deregisterImagePolicy,
    },
    snapshots: {
        entry: "delete-snapshots",
        description: "image-janitor: deletes what is left of one batch's EBS snapshots",
        timeout: 900,
        memorySize: 256,
        policy: deleteSnapshotsPolicy,
    },
};

const FUNCTION_KEYS = Object.keys(FUNCTIONS) as FunctionKey[];

export class AmiCleanup extends pulumi.ComponentResource {
    public readonly stateMachineArn: pulumi.Output<string>;
    public readonly functionNames: pulumi.Output<Record<FunctionKey, string>>;
    public readonly scheduleName: pulumi.Output<string>;
    public readonly logGroupNames: pulumi.Output<Record<FunctionKey | "stateMachine", string>>;
    /** The topic alerts go to, when alerts are on. */
    public readonly alertTopicArn: pulumi.Output<string | undefined>;
    /** With recycleBinDays: the region's Recycle Bin retention rules for the cleanup's deletions. */
    public readonly recycleBinRuleArns: pulumi.Output<Record<RecycleBinKey, string> | undefined>;
    /** With recycleBinDays: a managed policy with what `npm run restore` needs here, to attach to who may undo. */
    public readonly restorePolicyArn: pulumi.Output<string | undefined>;

    constructor(name: string, args: AmiCleanupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-janitor:ami:AmiCleanup", name, {}, opts);
        const parent = { parent: this };
        const retentionInDays = args.logRetentionDays ?? 30;

        const partition = aws.getPartitionOutput({}, parent).partition;
        const region = aws.getRegionOutput({}, parent).region;
        const accountId = aws.getCallerIdentityOutput({}, parent).accountId;
        const scope = pulumi
            .all([partition, region, accountId])
            .apply(([p, r, a]) => ({ partition: p, region: r, accountId: a }));

        const functions = {} as Record<FunctionKey, aws.lambda.Function>;
        const logGroups = {} as Record<FunctionKey, aws.cloudwatch.LogGroup>;
        for (const key of FUNCTION_KEYS) {
            const spec = FUNCTIONS[key];
            const built = bundledFunction(
                `${name}-${key}`,
                {
                    ...spec,
                    logRetentionDays: retentionInDays,
                    policy: (logGroupArn) =>
                        pulumi
                            .all([logGroupArn, scope])
                            .apply(([arn, sc]) => spec.policy(arn, sc, args.settings)),
                },
                parent,
            );
            functions[key] = built.fn;
            logGroups[key] = built.logGroup;
        }

        // Before the state machine: nothing is deleted before the rules that keep it exist.
        const days = args.settings.recycleBinDays;
        const rules =
            days > 0
                ? (Object.fromEntries(
                      (Object.keys(RECYCLE_BIN_RESOURCES) as RecycleBinKey[]).map((key) => [
                          key,
                          new aws.rbin.Rule(
                              `${name}-bin-${key}`,
                              {
                                  ...recycleBinRuleArgs(key, days),
                                  tags: { [CLEANUP_COMPONENT_TAG.key]: CLEANUP_COMPONENT_TAG.value },
                              },
                              parent,
                          ),
                      ]),
                  ) as Record<RecycleBinKey, aws.rbin.Rule>)
                : undefined;

        const machineLogGroup = new aws.cloudwatch.LogGroup(
            `${name}-machine`,
            // The vended-logs prefix keeps Step Functions from growing the account's log resource policy.
            { namePrefix: `/aws/vendedlogs/states/${name}-`, retentionInDays },
            parent,
        );
        const { role: machineRole, policy: machinePolicy } = serviceRole(
            `${name}-machine`,
            {
                service: "states.amazonaws.com",
                accountId,
                policy: pulumi
                    .all(FUNCTION_KEYS.map((k) => functions[k].arn))
                    .apply((arns) => stateMachinePolicy(arns)),
            },
            parent,
        );
        const definition = pulumi
            .all([functions.list.arn, functions.deregister.arn, functions.snapshots.arn])
            .apply(([list, deregister, snapshots]) =>
                JSON.stringify(
                    buildDefinition({
                        functionArns: { list, deregister, snapshots },
                        settings: args.settings,
                    }),
                ),
            );
        const machine = new aws.sfn.StateMachine(
            `${name}-machine`,
            {
                type: "STANDARD",
                roleArn: machineRole.arn,
                tags: { [CLEANUP_COMPONENT_TAG.key]: CLEANUP_COMPONENT_TAG.value },
                definition,
                loggingConfiguration: {
                    level: "ALL",
                    includeExecutionData: true,
                    logDestination: pulumi.interpolate`${machineLogGroup.arn}:*`,
                },
            },
            { parent: this, dependsOn: [machinePolicy, ...(rules ? [rules.images, rules.snapshots] : [])] },
        );
        const selfPolicy = new aws.iam.RolePolicy(
            `${name}-machine-self`,
            {
                role: machineRole.id,
                policy: machine.arn.apply((arn) => JSON.stringify(stateMachineSelfPolicy(arn))),
            },
            parent,
        );

        const { role: schedulerRole, policy: schedulerRolePolicy } = serviceRole(
            `${name}-schedule`,
            {
                service: "scheduler.amazonaws.com",
                accountId,
                policy: machine.arn.apply((arn) => schedulerPolicy(arn)),
            },
            parent,
        );
        const schedule = new aws.scheduler.Schedule(
            `${name}-schedule`,
            {
                description: "image-janitor: starts the AMI cleanup",
                scheduleExpression: args.schedule ?? "rate(1 hour)",
                flexibleTimeWindow: { mode: "OFF" },
                target: { arn: machine.arn, roleArn: schedulerRole.arn, input: "{}" },
            },
            // A run needs the overlap check and the hand-over to the next page from its first minute.
            { parent: this, dependsOn: [schedulerRolePolicy, selfPolicy] },
        );

        this.alertTopicArn = args.alerts
            ? this.alertOnFailure(name, machine.arn, args.alerts)
            : pulumi.output(undefined);

        const restore =
            days > 0
                ? new aws.iam.Policy(
                      `${name}-restore`,
                      {
                          description:
                              "image-janitor: npm run restore, bringing the AMI cleanup's deletions back",
                          policy: scope.apply((sc) => JSON.stringify(restorePolicy(sc))),
                      },
                      parent,
                  )
                : undefined;
        this.restorePolicyArn = restore ? restore.arn : pulumi.output(undefined);
        this.recycleBinRuleArns = rules
            ? pulumi.output({ images: rules.images.arn, snapshots: rules.snapshots.arn })
            : pulumi.output(undefined);
        this.stateMachineArn = machine.arn;
        this.functionNames = pulumi.output({
            list: functions.list.name,
            deregister: functions.deregister.name,
            snapshots: functions.snapshots.name,
        });
        this.scheduleName = schedule.name;
        this.logGroupNames = pulumi.output({
            list: logGroups.list.name,
            deregister: logGroups.deregister.name,
            snapshots: logGroups.snapshots.name,
            stateMachine: machineLogGroup.name,
        });
        this.registerOutputs({
            stateMachineArn: this.stateMachineArn,
            functionNames: this.functionNames,
            scheduleName: this.scheduleName,
            logGroupNames: this.logGroupNames,
            alertTopicArn: this.alertTopicArn,
            recycleBinRuleArns: this.recycleBinRuleArns,
            restorePolicyArn: this.restorePolicyArn,
        });
    }

    /** An EventBridge rule on the state machine's failed, timed-out and aborted executions, sent to SNS. */
    private alertOnFailure(
        name: string,
        machineArn: pulumi.Output<string>,
        alerts: { email?: string; topicArn?: string },
    ) {
        const parent = { parent: this };
        const rule = new aws.cloudwatch.EventRule(
            `${name}-alerts`,
            {
                description: "image-janitor: an AMI cleanup run failed, timed out or was aborted",
                eventPattern: machineArn.apply((arn) => JSON.stringify(executionAlertPattern(arn))),
            },
            parent,
        );
        let topicArn: pulumi.Output<string>;
        if (alerts.topicArn) {
            topicArn = pulumi.output(alerts.topicArn);
        } else {
            const topic = new aws.sns.Topic(`${name}-alerts`, {}, parent);
            new aws.sns.TopicPolicy(
                `${name}-alerts`,
                {
                    arn: topic.arn,
                    policy: pulumi
                        .all([topic.arn, rule.arn])
                        .apply(([t, r]) => JSON.stringify(alertTopicPolicy(t, r))),
                },
                parent,
            );
            new aws.sns.TopicSubscription(
                `${name}-alerts`,
                { topic: topic.arn, protocol: "email", endpoint: alerts.email ?? "" },
                parent,
            );
            topicArn = topic.arn;
        }
        new aws.cloudwatch.EventTarget(`${name}-alerts`, { rule: rule.name, arn: topicArn }, parent);
        return topicArn;
    }
}

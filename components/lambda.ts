// The one shape every Lambda function of the program has: its own log group with retention, its own role with
// exactly its policy, the bundled code, and Lambda's native JSON logs.
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { functionArchive } from "./bundle";
import type { PolicyDocument } from "./policies";
import { serviceRole } from "./serviceRole";

export interface BundledFunctionArgs {
    /** The folder under functions/ that holds the entry. */
    entry: string;
    description: string;
    /** Seconds. */
    timeout: number;
    /** MB. */
    memorySize: number;
    logRetentionDays: pulumi.Input<number>;
    /** The role's one inline policy, given the function's log group ARN. */
    policy: (logGroupArn: pulumi.Output<string>) => pulumi.Input<PolicyDocument>;
}

export interface BundledFunction {
    fn: aws.lambda.Function;
    logGroup: aws.cloudwatch.LogGroup;
    role: aws.iam.Role;
}

/** Children are named `name`, and parented by `opts.parent`. */
export function bundledFunction(
    name: string,
    args: BundledFunctionArgs,
    opts: { parent: pulumi.Resource },
): BundledFunction {
    const logGroup = new aws.cloudwatch.LogGroup(name, { retentionInDays: args.logRetentionDays }, opts);
    const { role, policy } = serviceRole(
        name,
        { service: "lambda.amazonaws.com", description: args.description, policy: args.policy(logGroup.arn) },
        opts,
    );
    const fn = new aws.lambda.Function(
        name,
        {
            description: args.description,
            runtime: aws.lambda.Runtime.NodeJS22dX,
            architectures: ["arm64"],
            handler: "index.handler",
            code: functionArchive(args.entry),
            role: role.arn,
            timeout: args.timeout,
            memorySize: args.memorySize,
            loggingConfig: {
                logFormat: "JSON",
                logGroup: logGroup.name,
                applicationLogLevel: "INFO",
                systemLogLevel: "WARN",
            },
        },
        // The function must not run before its permissions exist.
        { ...opts, dependsOn: [policy] },
    );
    return { fn, logGroup, role };
}

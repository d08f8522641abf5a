// A role a service assumes, with one inline policy: every role the components create has this shape.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy, type PolicyDocument } from "./policies";

export interface ServiceRoleArgs {
    /** The service principal, e.g. `lambda.amazonaws.com`. */
    service: string;
    /** Adds the aws:SourceAccount confused-deputy guard to the trust policy. */
    accountId?: pulumi.Input<string>;
    description?: string;
    policy: pulumi.Input<PolicyDocument>;
}

/** Returns the role and its policy; depend on the policy so nothing runs before its permissions exist. */
export function serviceRole(name: string, args: ServiceRoleArgs, opts: pulumi.CustomResourceOptions) {
    const role = new aws.iam.Role(
        name,
        {
            ...(args.description ? { description: args.description } : {}),
            assumeRolePolicy: pulumi
                .output(args.accountId)
                .apply((a) => JSON.stringify(assumeRolePolicy(args.service, a))),
        },
        opts,
    );
    const policy = new aws.iam.RolePolicy(
        name,
        { role: role.id, policy: pulumi.output(args.policy).apply((p) => JSON.stringify(p)) },
        opts,
    );
    return { role, policy };
}

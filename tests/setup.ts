// Mocha's one setup file: sets Pulumi's mock runtime and stack config exactly once, and records every registration.
import * as pulumi from "@pulumi/pulumi";

export const ACCOUNT_ID = "123456789012";
export const REGION = "us-east-1";

export interface Registration {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

export const registrations: Registration[] = [];

export const TEST_CONFIG = {
    "aws:region": REGION,
    "image-janitor:validHours": "24",
    "image-janitor:schedule": "rate(2 hours)",
    "image-janitor:maxConcurrency": "5",
    "image-janitor:logRetentionDays": "14",
};

pulumi.runtime.setAllConfig(TEST_CONFIG);

/** Each resource type's ARN, in its service's real format, so that a swapped reference fails a test. */
const ARNS: Record<string, (physical: string) => string> = {
    "aws:lambda/function:Function": (n) => `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${n}`,
    "aws:cloudwatch/logGroup:LogGroup": (n) => `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:${n}`,
    "aws:iam/role:Role": (n) => `arn:aws:iam::${ACCOUNT_ID}:role/${n}`,
    "aws:sfn/stateMachine:StateMachine": (n) => `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:${n}`,
    "aws:scheduler/schedule:Schedule": (n) =>
        `arn:aws:scheduler:${REGION}:${ACCOUNT_ID}:schedule/default/${n}`,
    "aws:sns/topic:Topic": (n) => `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${n}`,
    "aws:sns/topicSubscription:TopicSubscription": (n) =>
        `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${n}:0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d`,
    "aws:cloudwatch/eventRule:EventRule": (n) => `arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/${n}`,
    "aws:cloudformation/stack:Stack": (n) =>
        `arn:aws:cloudformation:${REGION}:${ACCOUNT_ID}:stack/${n}/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d`,
    "aws:iam/policy:Policy": (n) => `arn:aws:iam::${ACCOUNT_ID}:policy/${n}`,
    "aws:rbin/rule:Rule": (n) => `arn:aws:rbin:${REGION}:${ACCOUNT_ID}:rule/${n}`,
};

/**
 * Realistic computed outputs: an ARN in its service's format and a physical name derived the way AWS and Pulumi
 * derive them. A type that has no ARN in AWS (a role policy, a topic policy, an event target) gets none.
 */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const physical =
        (inputs.name as string | undefined) ??
        (inputs.namePrefix ? `${inputs.namePrefix}0a1b2c3d` : `${name}-0a1b2c3`);
    if (type === "awsx:ecr:Repository") {
        // awsx's remote component: its outputs are the inner repository and its URL.
        const url = `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${physical}`;
        const arn = `arn:aws:ecr:${REGION}:${ACCOUNT_ID}:repository/${physical}`;
        return { url, repository: { name: physical, arn, registryId: ACCOUNT_ID, repositoryUrl: url } };
    }
    const arn = ARNS[type]?.(physical);
    return { ...inputs, name: physical, ...(arn ? { arn } : {}) };
}

pulumi.runtime.setMocks(
    {
        newResource(args) {
            registrations.push({ type: args.type, name: args.name, inputs: args.inputs });
            const state = mockState(args.type, args.name, args.inputs);
            return { id: `${args.name}-id`, state };
        },
        call(args) {
            switch (args.token) {
                case "aws:index/getCallerIdentity:getCallerIdentity":
                    return {
                        accountId: ACCOUNT_ID,
                        arn: `arn:aws:iam::${ACCOUNT_ID}:user/test`,
                        userId: "AIDTEST",
                    };
                case "aws:index/getRegion:getRegion":
                    return { name: REGION, region: REGION, id: REGION };
                case "aws:index/getPartition:getPartition":
                    return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
                default:
                    throw new Error(`unexpected invoke ${args.token}`);
            }
        },
    },
    "image-janitor",
    "test",
    false,
);

/** The parent's type token, read from the URN the mock monitor gave the resource (`parent$child` chain). */
export function parentTypeOf(type: string, name: string): string | undefined {
    // biome-ignore lint/suspicious/noExplicitAny: the mock monitor's registry is not part of the typed API
    const monitor = (pulumi.runtime as any).getMonitor() as {
        getRegisteredResources(): Map<string, unknown>;
    };
    for (const urn of monitor.getRegisteredResources().keys()) {
        const [, , typeChain, ...rest] = urn.split("::");
        const resourceName = rest.join("::");
        const chain = typeChain.split("$");
        if (chain[chain.length - 1] === type && resourceName === name)
            return chain.length > 1 ? chain[chain.length - 2] : undefined;
    }
    throw new Error(`no registered resource ${type} ${name}`);
}

/** The value of an output, awaited (a failing assertion then fails the test instead of timing it out). */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

export function registered(type: string): Registration[] {
    return registrations.filter((r) => r.type === type);
}

/** Dependencies each registration declared, as URNs: all of them, and those behind each input property. */
export interface DeclaredDependencies {
    all: string[];
    byProperty: Record<string, string[]>;
}
const dependencies = new Map<string, DeclaredDependencies>();

// The mock monitor hands newResource no dependencies, so they are read off the registration request itself.
{
    // biome-ignore lint/suspicious/noExplicitAny: the mock monitor's request objects are untyped protobufs
    const monitor = (pulumi.runtime as any).getMonitor();
    const register = monitor.registerResource.bind(monitor);
    // biome-ignore lint/suspicious/noExplicitAny: as above
    monitor.registerResource = (req: any, callback: unknown) => {
        const byProperty: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((deps: { getUrnsList(): string[] }, key: string) => {
            byProperty[key] = deps.getUrnsList();
        });
        dependencies.set(`${req.getType()}::${req.getName()}`, {
            all: req.getDependenciesList(),
            byProperty,
        });
        return register(req, callback);
    };
}

export function dependenciesOf(type: string, name: string): DeclaredDependencies {
    const found = dependencies.get(`${type}::${name}`);
    if (!found) throw new Error(`no registration of ${type} ${name}`);
    return found;
}

export const urnOf = (type: string, name: string, parentType?: string) =>
    `urn:pulumi:test::image-janitor::${parentType ? `${parentType}$` : ""}${type}::${name}`;

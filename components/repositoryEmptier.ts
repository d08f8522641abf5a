// Dynamic provider whose delete empties an ECR repository, so `pulumi destroy` can delete a repository with images.
// Its code is serialized into state and run later by the engine in a separate process: it requires the SDK inside
// its methods and captures nothing but pure functions.
import * as pulumi from "@pulumi/pulumi";
import { emptyRepository } from "../functions/core/ecr/empty";
import { errorMessage } from "../functions/core/shared/errors";

export interface RepositoryEmptierArgs {
    /** The repository to empty when this resource is deleted. Pass the repository's output so Pulumi orders the deletes. */
    repositoryName: pulumi.Input<string>;
    /** The registry (account id) that owns the repository. */
    registryId: pulumi.Input<string>;
    /** The repository's region: the provider runs without the stack's config, so it is stored in state. */
    region: pulumi.Input<string>;
}

/** What `delete` needs, and all that the resource stores. */
export interface EmptierState {
    repositoryName: string;
    registryId: string;
    region: string;
}

const STATE_KEYS = ["repositoryName", "registryId", "region"] as const;

/** Copies only the known keys: inputs also carry the serialized `__provider`, which must never reach an API call. */
function toState(inputs: Record<string, unknown>): EmptierState {
    return {
        repositoryName: String(inputs.repositoryName),
        registryId: String(inputs.registryId),
        region: String(inputs.region),
    };
}

export const repositoryEmptierProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news) {
        const failures = STATE_KEYS.filter((k) => typeof news[k] !== "string" || news[k] === "").map(
            (property) => ({
                property,
                reason: `${property} must be a non-empty string (got ${JSON.stringify(news[property])})`,
            }),
        );
        return { inputs: news, failures };
    },

    async create(inputs) {
        const outs = toState(inputs);
        return { id: `${outs.region}/${outs.registryId}/${outs.repositoryName}`, outs };
    },

    // Any change means another repository: replace, so the old one is emptied only when it is really deleted.
    async diff(_id, olds, news) {
        const replaces = STATE_KEYS.filter((k) => olds[k] !== news[k]);
        return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
    },

    // Idempotent: an empty or missing repository is success. A failure is a plain Error (what the engine shows
    // for `pulumi destroy`) naming the repository, the registry, the region, the call and AWS's error code.
    async delete(_id, props) {
        const { ECR } = require("@aws-sdk/client-ecr");
        const state = toState(props);
        const ecr = new ECR({ region: state.region });
        try {
            await emptyRepository(ecr, {
                repositoryName: state.repositoryName,
                registryId: state.registryId,
            });
        } catch (err) {
            throw new Error(
                `image-janitor could not empty ECR repository ${state.repositoryName} (registry ${state.registryId}, region ${state.region}): ${errorMessage(err)}`,
            );
        } finally {
            ecr.destroy();
        }
    },
};

export class RepositoryEmptier extends pulumi.dynamic.Resource {
    public readonly repositoryName!: pulumi.Output<string>;
    public readonly registryId!: pulumi.Output<string>;
    public readonly region!: pulumi.Output<string>;

    constructor(name: string, args: RepositoryEmptierArgs, opts?: pulumi.CustomResourceOptions) {
        const { repositoryName, registryId, region } = args;
        super(
            repositoryEmptierProvider,
            name,
            { repositoryName, registryId, region },
            opts,
            "image-janitor",
            "RepositoryEmptier",
        );
    }
}

// Before a local run deletes anything: is a deployed cleanup of this account and region working right now? Two
// runs at once would fight over EC2's buckets and report each other's deletions.
import {
    ListExecutionsCommand,
    ListTagsForResourceCommand,
    paginateListStateMachines,
    type SFNClient,
} from "@aws-sdk/client-sfn";
import { CLEANUP_COMPONENT_TAG } from "../components/tags";

/** The running executions of the deployed cleanups (their state machines carry the component tag) in this region. */
export async function runningDeployedExecutions(sfn: SFNClient): Promise<string[]> {
    const running: string[] = [];
    for await (const page of paginateListStateMachines({ client: sfn }, {})) {
        for (const machine of page.stateMachines ?? []) {
            const arn = machine.stateMachineArn ?? "";
            const { tags = [] } = await sfn.send(new ListTagsForResourceCommand({ resourceArn: arn }));
            if (
                !tags.some(
                    (t) => t.key === CLEANUP_COMPONENT_TAG.key && t.value === CLEANUP_COMPONENT_TAG.value,
                )
            )
                continue;
            const { executions = [] } = await sfn.send(
                new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: "RUNNING", maxResults: 1 }),
            );
            for (const e of executions) if (e.executionArn) running.push(e.executionArn);
        }
    }
    return running;
}

// The tags the cleanup itself writes, in one SDK-free place: the Lambda code writes them, the IAM builders allow
// exactly them, and the Recycle Bin rules match them.

/**
 * Put on an AMI and its snapshots just before the cleanup deletes them. A snapshot that carries it and that no AMI
 * uses is a deletion a run started and did not finish: the next listing finds it and finishes it. With
 * recycleBinDays, the Recycle Bin retention rules match this tag, so only the cleanup's deletions are retained.
 */
export const DELETING_TAG = { Key: "image-janitor:deleting", Value: "true" } as const;

/** Every tag key the cleanup writes; its CreateTags permission is limited to these. */
export const CLEANUP_TAG_KEYS: readonly string[] = [DELETING_TAG.Key];

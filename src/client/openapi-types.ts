// Generated from the served OpenAPI document by `npm run gen:client`; do not edit.
// test/client/drift.test.ts fails when the server and this file disagree.

export const operations = {
  Consumers_List: { method: 'GET', path: '/api/instances/{instanceId}/consumers' },
  Data_Batch: { method: 'POST', path: '/api/instances/{instanceId}/data/{entityName}/$batch' },
  Data_CreateActivity: { method: 'POST', path: '/api/instances/{instanceId}/data/{entityName}' },
  Data_Get: { method: 'GET', path: '/api/instances/{instanceId}/data/{entityName}/{entityId}' },
  Data_List: { method: 'GET', path: '/api/instances/{instanceId}/data/{entityName}' },
  Data_UpdateProfile: { method: 'PATCH', path: '/api/instances/{instanceId}/data/{entityName}/{entityId}' },
  Entities_Get: { method: 'GET', path: '/api/instances/{instanceId}/manage/entities/{entityName}' },
  Entities_List: { method: 'GET', path: '/api/instances/{instanceId}/manage/entities' },
  Hooks_Receive: { method: 'POST', path: '/api/instances/{instanceId}/hooks/{hookName}' },
  Instances_Get: { method: 'GET', path: '/api/instances/{instanceId}' },
  Instances_List: { method: 'GET', path: '/api/instances' },
  Profile_GetKeyRing: { method: 'GET', path: '/api/instances/{instanceId}/profile/keyring' },
  Workflows_CancelJob: { method: 'POST', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs/{jobId}/cancel' },
  Workflows_GetJob: { method: 'GET', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs/{jobId}' },
  Workflows_ListJobs: { method: 'GET', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs' },
  Workflows_StartJob: { method: 'POST', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs' },
} as const;

export type OperationId = keyof typeof operations;

/** Query parameters of each operation. */
export interface Queries {
  Consumers_List: Record<string, never>;
  Data_Batch: {
    validUntil?: string;
    caller?: string;
  };
  Data_CreateActivity: {
    validUntil?: string;
    caller?: string;
  };
  Data_Get: {
    $select?: string;
    $expand?: string;
  };
  Data_List: {
    $filter?: string;
    $select?: string;
    $orderby?: string;
    $top?: string;
    $skip?: string;
    $skiptoken?: string;
    $count?: string;
    $search?: string;
    $expand?: string;
  };
  Data_UpdateProfile: {
    validUntil?: string;
    caller?: string;
  };
  Entities_Get: Record<string, never>;
  Entities_List: Record<string, never>;
  Hooks_Receive: {
    validUntil?: string;
    caller?: string;
  };
  Instances_Get: Record<string, never>;
  Instances_List: Record<string, never>;
  Profile_GetKeyRing: {
    dataSourceName: string;
    entityName: string;
    key: string;
  };
  Workflows_CancelJob: Record<string, never>;
  Workflows_GetJob: Record<string, never>;
  Workflows_ListJobs: Record<string, never>;
  Workflows_StartJob: {
    operationType?: string;
  };
}

/** The success response body of each operation. */
export interface Responses {
  Consumers_List: {
    started: boolean;
    value: Array<{
      instanceId: string;
      name: string;
      subject: string;
      stream: string | null;
      durable: string;
      state: string;
      error: string | null;
      lag: number | null;
      received: number;
      written: number;
      replayed: number;
      rejected: number;
      retried: number;
      rejects: Array<{
        at: string;
        sequence: number;
        subject: string;
        step: string;
        reason: string;
        payload: string;
      }>;
    }>;
  };
  Data_Batch: {
    value: Array<{
      [key: string]: unknown;
    }>;
    succeeded: number;
    failed: number;
  };
  Data_CreateActivity: {
    [key: string]: unknown;
  };
  Data_Get: {
    [key: string]: unknown;
  };
  Data_List: {
    "@odata.context": string;
    "@odata.count"?: number;
    "@odata.nextLink"?: string;
    value: Array<{
      [key: string]: unknown;
    }>;
    [key: string]: unknown;
  };
  Data_UpdateProfile: void;
  Entities_Get: {
    [key: string]: unknown;
  };
  Entities_List: {
    instanceId: string;
    entities: Array<{
      [key: string]: unknown;
    }>;
  };
  Hooks_Receive: {
    hook: string;
    entity: string;
    status: string;
    customerId?: string;
    activityId?: string;
    validUntil?: string;
    count?: number;
    items?: Array<{
      status: string;
      customerId?: string;
      activityId?: string;
      validUntil?: string;
    }>;
  };
  Instances_Get: {
    instanceId: string;
    name: string;
    description: string | null;
    createdTime: string;
    lastModifiedTime: string;
    currentGeneration: number | null;
  };
  Instances_List: Array<{
    instanceId: string;
    name: string;
    description: string | null;
    createdTime: string;
    lastModifiedTime: string;
    currentGeneration: number | null;
  }>;
  Profile_GetKeyRing: {
    instanceId: string;
    customerId: string;
    keyRing: Array<{
      dataSourceName: string;
      entityName: string;
      preferredKey: string;
      keys: Array<string>;
    }>;
  };
  Workflows_CancelJob: {
    jobId: string;
    instanceId: string;
    jobStatus: string;
    trigger: string;
    submittedTimestamp: string;
    startTimestamp: string | null;
    endTimestamp: string | null;
    error: string | null;
    summary: {
      [key: string]: unknown;
    };
    tasks: Array<{
      [key: string]: unknown;
    }>;
    [key: string]: unknown;
  };
  Workflows_GetJob: {
    jobId: string;
    instanceId: string;
    jobStatus: string;
    trigger: string;
    submittedTimestamp: string;
    startTimestamp: string | null;
    endTimestamp: string | null;
    error: string | null;
    summary: {
      [key: string]: unknown;
    };
    tasks: Array<{
      [key: string]: unknown;
    }>;
    [key: string]: unknown;
  };
  Workflows_ListJobs: Array<{
    jobId: string;
    instanceId: string;
    jobStatus: string;
    trigger: string;
    submittedTimestamp: string;
    startTimestamp: string | null;
    endTimestamp: string | null;
    error: string | null;
    summary: {
      [key: string]: unknown;
    };
    tasks: Array<{
      [key: string]: unknown;
    }>;
    [key: string]: unknown;
  }>;
  Workflows_StartJob: {
    jobId: string;
    instanceId: string;
    jobStatus: string;
    trigger: string;
    submittedTimestamp: string;
    startTimestamp: string | null;
    endTimestamp: string | null;
    error: string | null;
    summary: {
      [key: string]: unknown;
    };
    tasks: Array<{
      [key: string]: unknown;
    }>;
    [key: string]: unknown;
  };
}

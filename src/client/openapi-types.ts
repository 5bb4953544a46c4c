// Generated from the served OpenAPI document by `npm run gen:client`; do not edit.
// test/client/drift.test.ts fails when the server and this file disagree.

export const operations = {
  ApiKeys_Create: { method: 'POST', path: '/api/instances/{instanceId}/keys' },
  ApiKeys_List: { method: 'GET', path: '/api/instances/{instanceId}/keys' },
  ApiKeys_Regenerate: { method: 'POST', path: '/api/instances/{instanceId}/keys/principals/{principalId}/regenerate' },
  ApiKeys_Revoke: { method: 'DELETE', path: '/api/instances/{instanceId}/keys/{keyId}' },
  Audit_List: { method: 'GET', path: '/api/instances/{instanceId}/audit' },
  Changes_Stream: { method: 'GET', path: '/api/instances/{instanceId}/changes' },
  Consumers_List: { method: 'GET', path: '/api/instances/{instanceId}/consumers' },
  Customer_Card: { method: 'GET', path: '/api/instances/{instanceId}/card/{customerId}' },
  Customer_Search: { method: 'GET', path: '/api/instances/{instanceId}/search' },
  Data_Batch: { method: 'POST', path: '/api/instances/{instanceId}/data/{entityName}/$batch' },
  Data_CreateActivity: { method: 'POST', path: '/api/instances/{instanceId}/data/{entityName}' },
  Data_Get: { method: 'GET', path: '/api/instances/{instanceId}/data/{entityName}/{entityId}' },
  Data_List: { method: 'GET', path: '/api/instances/{instanceId}/data/{entityName}' },
  Data_UpdateProfile: { method: 'PATCH', path: '/api/instances/{instanceId}/data/{entityName}/{entityId}' },
  Entities_Get: { method: 'GET', path: '/api/instances/{instanceId}/manage/entities/{entityName}' },
  Entities_List: { method: 'GET', path: '/api/instances/{instanceId}/manage/entities' },
  Exports_GetRun: { method: 'GET', path: '/api/instances/{instanceId}/manage/exports/{exportName}/runs/{runId}' },
  Exports_List: { method: 'GET', path: '/api/instances/{instanceId}/manage/exports' },
  Exports_ListRuns: { method: 'GET', path: '/api/instances/{instanceId}/manage/exports/{exportName}/runs' },
  Exports_Run: { method: 'POST', path: '/api/instances/{instanceId}/manage/exports/{exportName}/run' },
  Hooks_Receive: { method: 'POST', path: '/api/instances/{instanceId}/hooks/{hookName}' },
  Instances_CreateOrUpdate: { method: 'PUT', path: '/api/instances/{instanceId}' },
  Instances_Get: { method: 'GET', path: '/api/instances/{instanceId}' },
  Instances_List: { method: 'GET', path: '/api/instances' },
  Measures_Create: { method: 'POST', path: '/api/instances/{instanceId}/manage/measures' },
  Measures_Delete: { method: 'DELETE', path: '/api/instances/{instanceId}/manage/measures/{name}' },
  Measures_Get: { method: 'GET', path: '/api/instances/{instanceId}/manage/measures/{name}' },
  Measures_List: { method: 'GET', path: '/api/instances/{instanceId}/manage/measures' },
  Measures_Update: { method: 'PUT', path: '/api/instances/{instanceId}/manage/measures/{name}' },
  Notifications_List: { method: 'GET', path: '/api/instances/{instanceId}/manage/notifications' },
  Notifications_ListDeliveries: { method: 'GET', path: '/api/instances/{instanceId}/manage/notifications/deliveries' },
  Profile_GetKeyRing: { method: 'GET', path: '/api/instances/{instanceId}/profile/keyring' },
  Rbac_CreateOrUpdateRoleAssignment: { method: 'PUT', path: '/api/instances/{instanceId}/rbac/principals/{principalId}/assignment' },
  Rbac_DeleteRoleAssignment: { method: 'DELETE', path: '/api/instances/{instanceId}/rbac/principals/{principalId}/assignment' },
  Rbac_GetAllRoleAssignments: { method: 'GET', path: '/api/instances/{instanceId}/rbac/assignments' },
  Rbac_GetAllRoleDefinitions: { method: 'GET', path: '/api/instances/{instanceId}/rbac/roles' },
  Rbac_GetCurrentUserRole: { method: 'GET', path: '/api/instances/{instanceId}/rbac/myrole' },
  Segments_Activate: { method: 'POST', path: '/api/instances/{instanceId}/manage/segments/{name}/activate' },
  Segments_Create: { method: 'POST', path: '/api/instances/{instanceId}/manage/segments' },
  Segments_Deactivate: { method: 'POST', path: '/api/instances/{instanceId}/manage/segments/{name}/deactivate' },
  Segments_Delete: { method: 'DELETE', path: '/api/instances/{instanceId}/manage/segments/{name}' },
  Segments_Get: { method: 'GET', path: '/api/instances/{instanceId}/manage/segments/{name}' },
  Segments_List: { method: 'GET', path: '/api/instances/{instanceId}/manage/segments' },
  Segments_Update: { method: 'PUT', path: '/api/instances/{instanceId}/manage/segments/{name}' },
  ServerApiKeys_Create: { method: 'POST', path: '/api/keys' },
  ServerApiKeys_List: { method: 'GET', path: '/api/keys' },
  ServerApiKeys_Regenerate: { method: 'POST', path: '/api/keys/principals/{principalId}/regenerate' },
  ServerApiKeys_Revoke: { method: 'DELETE', path: '/api/keys/{keyId}' },
  ServerAudit_List: { method: 'GET', path: '/api/audit' },
  Telemetry_Realtime: { method: 'GET', path: '/api/instances/{instanceId}/telemetry/realtime' },
  Workflows_CancelJob: { method: 'POST', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs/{jobId}/cancel' },
  Workflows_GetJob: { method: 'GET', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs/{jobId}' },
  Workflows_ListJobs: { method: 'GET', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs' },
  Workflows_StartJob: { method: 'POST', path: '/api/instances/{instanceId}/workflows/{workflowName}/jobs' },
} as const;

export type OperationId = keyof typeof operations;

/** Query parameters of each operation. */
export interface Queries {
  ApiKeys_Create: Record<string, never>;
  ApiKeys_List: {
    principalId?: string;
    includeRevoked?: boolean;
  };
  ApiKeys_Regenerate: Record<string, never>;
  ApiKeys_Revoke: Record<string, never>;
  Audit_List: {
    action?: string;
    principalId?: string;
    since?: string;
    until?: string;
    $top?: number;
    $skiptoken?: string;
  };
  Changes_Stream: {
    customerId?: string;
  };
  Consumers_List: Record<string, never>;
  Customer_Card: {
    activityType?: string;
    from?: string;
    to?: string;
    top?: number;
    skip?: number;
  };
  Customer_Search: {
    q: string;
    top?: number;
  };
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
  Exports_GetRun: Record<string, never>;
  Exports_List: Record<string, never>;
  Exports_ListRuns: {
    top?: number;
  };
  Exports_Run: Record<string, never>;
  Hooks_Receive: {
    validUntil?: string;
    caller?: string;
  };
  Instances_CreateOrUpdate: Record<string, never>;
  Instances_Get: Record<string, never>;
  Instances_List: Record<string, never>;
  Measures_Create: Record<string, never>;
  Measures_Delete: Record<string, never>;
  Measures_Get: {
    top?: number;
  };
  Measures_List: Record<string, never>;
  Measures_Update: Record<string, never>;
  Notifications_List: Record<string, never>;
  Notifications_ListDeliveries: {
    notification?: string;
    top?: number;
  };
  Profile_GetKeyRing: {
    dataSourceName: string;
    entityName: string;
    key: string;
  };
  Rbac_CreateOrUpdateRoleAssignment: Record<string, never>;
  Rbac_DeleteRoleAssignment: Record<string, never>;
  Rbac_GetAllRoleAssignments: Record<string, never>;
  Rbac_GetAllRoleDefinitions: Record<string, never>;
  Rbac_GetCurrentUserRole: Record<string, never>;
  Segments_Activate: Record<string, never>;
  Segments_Create: Record<string, never>;
  Segments_Deactivate: Record<string, never>;
  Segments_Delete: Record<string, never>;
  Segments_Get: {
    top?: number;
  };
  Segments_List: Record<string, never>;
  Segments_Update: Record<string, never>;
  ServerApiKeys_Create: Record<string, never>;
  ServerApiKeys_List: {
    principalId?: string;
    includeRevoked?: boolean;
  };
  ServerApiKeys_Regenerate: Record<string, never>;
  ServerApiKeys_Revoke: Record<string, never>;
  ServerAudit_List: {
    action?: string;
    principalId?: string;
    since?: string;
    until?: string;
    $top?: number;
    $skiptoken?: string;
    instanceId?: string;
  };
  Telemetry_Realtime: {
    from?: string;
    to?: string;
    interval?: string;
    groupBy?: string;
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
  ApiKeys_Create: {
    key: string;
    keyId: string;
    instanceId: string | null;
    principalId: string;
    name: string;
    role: string;
    slot: string | null;
    prefix: string;
    createdTimestamp: string;
    lastUsedTimestamp: string | null;
    expiresTimestamp: string | null;
    revokedTimestamp: string | null;
    replacedKeyId: string | null;
  };
  ApiKeys_List: {
    value: Array<{
      keyId: string;
      instanceId: string | null;
      principalId: string;
      name: string;
      role: string;
      slot: string | null;
      prefix: string;
      createdTimestamp: string;
      lastUsedTimestamp: string | null;
      expiresTimestamp: string | null;
      revokedTimestamp: string | null;
    }>;
  };
  ApiKeys_Regenerate: {
    key: string;
    keyId: string;
    instanceId: string | null;
    principalId: string;
    name: string;
    role: string;
    slot: string | null;
    prefix: string;
    createdTimestamp: string;
    lastUsedTimestamp: string | null;
    expiresTimestamp: string | null;
    revokedTimestamp: string | null;
    replacedKeyId: string | null;
  };
  ApiKeys_Revoke: {
    keyId: string;
    instanceId: string | null;
    principalId: string;
    name: string;
    role: string;
    slot: string | null;
    prefix: string;
    createdTimestamp: string;
    lastUsedTimestamp: string | null;
    expiresTimestamp: string | null;
    revokedTimestamp: string | null;
  };
  Audit_List: {
    value: Array<{
      id: number;
      timestamp: string;
      instanceId: string | null;
      principalId: string | null;
      action: string;
      target: string | null;
      outcome: string;
      detail: {
        [key: string]: unknown;
      } | null;
    }>;
    "@odata.nextLink"?: string;
  };
  Changes_Stream: void;
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
  Customer_Card: {
    customerId: string;
    previousCustomerIds: Array<string>;
    fields: Array<{
      name: string;
      value: unknown;
      type: string;
      batchValue: unknown;
      source: {
        dataSource: string;
        entity: string;
        column: string;
      } | null;
      override: {
        value: unknown;
        caller: string | null;
        setAt: string;
        validUntil: string;
      } | null;
    }>;
    keyring: Array<{
      DataSourceName: string;
      EntityName: string;
      AlternateValue: string;
    }>;
    measures: Array<{
      [key: string]: unknown;
    }>;
    segments: Array<{
      [key: string]: unknown;
    }>;
    activities: {
      value: Array<{
        [key: string]: unknown;
      }>;
      nextSkip: number | null;
      types: Array<string>;
    };
  };
  Customer_Search: {
    value: Array<{
      CustomerId: string;
      displayName: string | null;
      email: string | null;
      phone: string | null;
      matchedOn: "name" | "email" | "phone" | "key";
      matchedValue: string;
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
  Exports_GetRun: {
    runId: string;
    exportName: string;
    trigger: string;
    jobId: string | null;
    generation: number | null;
    status: string;
    target: string;
    startedAt: string;
    endedAt: string | null;
    durationMs: number | null;
    rows: number;
    batches: number;
    error: string | null;
  };
  Exports_List: {
    instanceId: string;
    exports: Array<{
      name: string;
      entity: string;
      segment: string | null;
      fields: Array<string> | null;
      afterRefresh: boolean;
      schedule: {
        cron: string;
        timezone: string | null;
      } | null;
      nextScheduledRun: string | null;
      target: {
        [key: string]: unknown;
      };
      lastRun: {
        runId: string;
        exportName: string;
        trigger: string;
        jobId: string | null;
        generation: number | null;
        status: string;
        target: string;
        startedAt: string;
        endedAt: string | null;
        durationMs: number | null;
        rows: number;
        batches: number;
        error: string | null;
      } | null;
    }>;
  };
  Exports_ListRuns: {
    exportName: string;
    runs: Array<{
      runId: string;
      exportName: string;
      trigger: string;
      jobId: string | null;
      generation: number | null;
      status: string;
      target: string;
      startedAt: string;
      endedAt: string | null;
      durationMs: number | null;
      rows: number;
      batches: number;
      error: string | null;
    }>;
  };
  Exports_Run: {
    runId: string;
    exportName: string;
    trigger: string;
    jobId: string | null;
    generation: number | null;
    status: string;
    target: string;
    startedAt: string;
    endedAt: string | null;
    durationMs: number | null;
    rows: number;
    batches: number;
    error: string | null;
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
  Instances_CreateOrUpdate: {
    instanceId: string;
    name: string;
    description: string | null;
    createdTime: string;
    lastModifiedTime: string;
    currentGeneration: number | null;
    schedule: {
      cron: string;
      timezone: string | null;
      nextRun: string | null;
    } | null;
  };
  Instances_Get: {
    instanceId: string;
    name: string;
    description: string | null;
    createdTime: string;
    lastModifiedTime: string;
    currentGeneration: number | null;
    schedule: {
      cron: string;
      timezone: string | null;
      nextRun: string | null;
    } | null;
  };
  Instances_List: Array<{
    instanceId: string;
    name: string;
    description: string | null;
    createdTime: string;
    lastModifiedTime: string;
    currentGeneration: number | null;
    schedule: {
      cron: string;
      timezone: string | null;
      nextRun: string | null;
    } | null;
  }>;
  Measures_Create: {
    [key: string]: unknown;
  };
  Measures_Delete: void;
  Measures_Get: {
    [key: string]: unknown;
  };
  Measures_List: {
    instanceId: string;
    measures: Array<{
      [key: string]: unknown;
    }>;
  };
  Measures_Update: {
    [key: string]: unknown;
  };
  Notifications_List: {
    instanceId: string;
    notifications: Array<{
      name: string;
      url: string;
      events: Array<string>;
      thresholds: Array<{
        [key: string]: unknown;
      }>;
    }>;
  };
  Notifications_ListDeliveries: {
    deliveries: Array<{
      deliveryId: string;
      notification: string;
      event: string;
      status: string;
      attempts: number;
      responseStatus: number | null;
      lastError: string | null;
      createdAt: string;
      updatedAt: string;
      payload: {
        [key: string]: unknown;
      };
    }>;
  };
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
  Rbac_CreateOrUpdateRoleAssignment: {
    principalId: string;
    principalType: string;
    principalDisplayName: string;
    roles: Array<string>;
    instanceId: string;
    assignedTimestamp: string;
  };
  Rbac_DeleteRoleAssignment: void;
  Rbac_GetAllRoleAssignments: Array<{
    principalId: string;
    principalType: string;
    principalDisplayName: string;
    roles: Array<string>;
    instanceId: string;
    assignedTimestamp: string;
  }>;
  Rbac_GetAllRoleDefinitions: Array<{
    roleName: string;
    description: string;
    permissions: Array<string>;
  }>;
  Rbac_GetCurrentUserRole: {
    principalId: string;
    roles: Array<string>;
    instanceId: string;
    scope: string;
    permissions: Array<string>;
  };
  Segments_Activate: {
    [key: string]: unknown;
  };
  Segments_Create: {
    [key: string]: unknown;
  };
  Segments_Deactivate: {
    [key: string]: unknown;
  };
  Segments_Delete: void;
  Segments_Get: {
    [key: string]: unknown;
  };
  Segments_List: {
    instanceId: string;
    segments: Array<{
      [key: string]: unknown;
    }>;
  };
  Segments_Update: {
    [key: string]: unknown;
  };
  ServerApiKeys_Create: {
    key: string;
    keyId: string;
    instanceId: string | null;
    principalId: string;
    name: string;
    role: string;
    slot: string | null;
    prefix: string;
    createdTimestamp: string;
    lastUsedTimestamp: string | null;
    expiresTimestamp: string | null;
    revokedTimestamp: string | null;
    replacedKeyId: string | null;
  };
  ServerApiKeys_List: {
    value: Array<{
      keyId: string;
      instanceId: string | null;
      principalId: string;
      name: string;
      role: string;
      slot: string | null;
      prefix: string;
      createdTimestamp: string;
      lastUsedTimestamp: string | null;
      expiresTimestamp: string | null;
      revokedTimestamp: string | null;
    }>;
  };
  ServerApiKeys_Regenerate: {
    key: string;
    keyId: string;
    instanceId: string | null;
    principalId: string;
    name: string;
    role: string;
    slot: string | null;
    prefix: string;
    createdTimestamp: string;
    lastUsedTimestamp: string | null;
    expiresTimestamp: string | null;
    revokedTimestamp: string | null;
    replacedKeyId: string | null;
  };
  ServerApiKeys_Revoke: {
    keyId: string;
    instanceId: string | null;
    principalId: string;
    name: string;
    role: string;
    slot: string | null;
    prefix: string;
    createdTimestamp: string;
    lastUsedTimestamp: string | null;
    expiresTimestamp: string | null;
    revokedTimestamp: string | null;
  };
  ServerAudit_List: {
    value: Array<{
      id: number;
      timestamp: string;
      instanceId: string | null;
      principalId: string | null;
      action: string;
      target: string | null;
      outcome: string;
      detail: {
        [key: string]: unknown;
      } | null;
    }>;
    "@odata.nextLink"?: string;
  };
  Telemetry_Realtime: {
    from: string;
    to: string;
    interval: string;
    groupBy: string;
    series: Array<{
      key: string;
      buckets: Array<{
        start: string;
        requests: number;
        errors: number;
        bytesIn: number;
        bytesOut: number;
        p50: number | null;
        p95: number | null;
        p99: number | null;
      }>;
    }>;
    totals: {
      requests: number;
      errors: number;
      bytesIn: number;
      bytesOut: number;
      p50: number | null;
      p95: number | null;
      p99: number | null;
    };
    errorCodes: Array<{
      code: string;
      count: number;
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

// OrleansCompute on Azure Container Apps with Azure Database for PostgreSQL Flexible Server.
// See README.md beside this file for the reasoning and the commands.
//
// Topology: one internal (VNet-only) Container Apps environment. Each silo is its own container
// app with exactly one replica: Container Apps gives no documented per-replica address, so
// every silo advertises the environment's private static IP plus a silo/gateway port pair that
// is unique in the environment, and TCP ingress forwards those ports to it. The Api is a plain
// HTTP app with any number of replicas. PostgreSQL sits in a delegated subnet of the same VNet.

targetScope = 'resourceGroup'

@description('Prefix of every resource name: lowercase letters, digits and hyphens.')
@minLength(2)
@maxLength(12)
param namePrefix string = 'oc'

param location string = resourceGroup().location

@description('Silo image, e.g. myregistry.azurecr.io/orleans-compute/silo:1.0.0 (deploy/docker/Silo.Dockerfile).')
param siloImage string

@description('Api image, e.g. myregistry.azurecr.io/orleans-compute/api:1.0.0 (deploy/docker/Api.Dockerfile).')
param apiImage string

@description('Registry login server; leave empty for images in a public registry.')
param registryServer string = ''
param registryUsername string = ''
@secure()
param registryPassword string = ''

@description('Number of silos. Each one is a separate one-replica container app with its own ports.')
@minValue(1)
@maxValue(20)
param siloCount int = 3

@minValue(1)
@maxValue(30)
param apiReplicas int = 2

param clusterId string = 'orleans-compute'
param serviceId string = 'orleans-compute'

param postgresAdminLogin string = 'orleans'
@secure()
param postgresAdminPassword string

@description('Bootstrap admin API key of the Api (Auth__AdminKey). At least 32 random characters.')
@secure()
@minLength(32)
param adminKey string

param postgresSkuName string = 'Standard_B2s'
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

// Ports inside the environment. Silo i (0-based) uses baseSiloPort + i and baseGatewayPort + i,
// both as its listening port and as the exposed ingress port, so what it advertises is what
// it listens on.
var baseSiloPort = 11111
var baseGatewayPort = 30000
var healthPort = 8081

var databaseName = 'orleans'

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: '${namePrefix}-vnet'
  location: location
  properties: {
    addressSpace: {
      addressPrefixes: [
        '10.60.0.0/16'
      ]
    }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: '10.60.0.0/23'
          delegations: [
            {
              name: 'containerapps'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'postgres'
        properties: {
          addressPrefix: '10.60.2.0/24'
          delegations: [
            {
              name: 'postgres'
              properties: {
                serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers'
              }
            }
          ]
        }
      }
    ]
  }
}

// A VNet-integrated flexible server needs a private DNS zone whose name ends in
// .postgres.database.azure.com, linked to the VNet its clients resolve from.
resource postgresDns 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: '${namePrefix}.private.postgres.database.azure.com'
  location: 'global'
}

resource postgresDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: postgresDns
  name: '${namePrefix}-vnet'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2022-12-01' = {
  name: '${namePrefix}-pg-${uniqueString(resourceGroup().id)}'
  location: location
  sku: {
    name: postgresSkuName
    tier: postgresSkuTier
  }
  properties: {
    version: '15'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      delegatedSubnetResourceId: '${vnet.id}/subnets/postgres'
      privateDnsZoneArmResourceId: postgresDns.id
    }
  }
  dependsOn: [
    postgresDnsLink
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2022-12-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${namePrefix}-logs'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

// internal: true keeps the environment's static IP, and so every Orleans port, inside the VNet.
// Orleans silo and gateway traffic is not encrypted and must never get a public address.
resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-env'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
    vnetConfiguration: {
      infrastructureSubnetId: '${vnet.id}/subnets/apps'
      internal: true
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
    zoneRedundant: false
  }
}

// Azure Database for PostgreSQL requires TLS; VerifyFull also checks the server's certificate
// against the CA bundle of the image.
var postgresConnectionString = 'Host=${postgres.properties.fullyQualifiedDomainName};Port=5432;Username=${postgresAdminLogin};Password=${postgresAdminPassword};Database=${databaseName};SSL Mode=VerifyFull'

var registrySecrets = empty(registryServer) ? [] : [
  {
    name: 'registry-password'
    value: registryPassword
  }
]

var registries = empty(registryServer) ? [] : [
  {
    server: registryServer
    username: registryUsername
    passwordSecretRef: 'registry-password'
  }
]

var clusterEnv = [
  {
    name: 'ConnectionStrings__Postgres'
    secretRef: 'postgres-connection-string'
  }
  {
    name: 'Orleans__ClusterId'
    value: clusterId
  }
  {
    name: 'Orleans__ServiceId'
    value: serviceId
  }
]

// Container Apps caps failureThreshold at 10: 10 x 20 s lets a silo wait for PostgreSQL and
// join the cluster before liveness starts to count.
var siloProbes = [
  {
    type: 'Startup'
    httpGet: {
      path: '/health/live'
      port: healthPort
    }
    initialDelaySeconds: 5
    periodSeconds: 20
    failureThreshold: 10
    timeoutSeconds: 3
  }
  {
    type: 'Readiness'
    httpGet: {
      path: '/health/ready'
      port: healthPort
    }
    periodSeconds: 5
    failureThreshold: 3
    timeoutSeconds: 3
  }
  {
    type: 'Liveness'
    httpGet: {
      path: '/health/live'
      port: healthPort
    }
    periodSeconds: 10
    failureThreshold: 3
    timeoutSeconds: 3
  }
]

resource silos 'Microsoft.App/containerApps@2024-03-01' = [for i in range(0, siloCount): {
  name: '${namePrefix}-silo-${i + 1}'
  location: location
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      secrets: concat([
        {
          name: 'postgres-connection-string'
          value: postgresConnectionString
        }
      ], registrySecrets)
      registries: registries
      // "external" on an internal environment means: reachable from the VNet, not from the
      // internet. Exposed ports must be unique in the environment, hence one pair per silo.
      ingress: {
        external: true
        transport: 'tcp'
        targetPort: baseSiloPort + i
        exposedPort: baseSiloPort + i
        additionalPortMappings: [
          {
            external: true
            targetPort: baseGatewayPort + i
            exposedPort: baseGatewayPort + i
          }
        ]
      }
    }
    template: {
      // Orleans leaves the cluster gracefully on SIGTERM (host shutdown timeout 30 s).
      terminationGracePeriodSeconds: 45
      containers: [
        {
          name: 'silo'
          image: siloImage
          env: concat(clusterEnv, [
            {
              name: 'Orleans__AdvertisedIP'
              value: environment.properties.staticIp
            }
            {
              name: 'Orleans__SiloPort'
              value: string(baseSiloPort + i)
            }
            {
              name: 'Orleans__GatewayPort'
              value: string(baseGatewayPort + i)
            }
            {
              name: 'Silo__HealthPort'
              value: string(healthPort)
            }
          ])
          probes: siloProbes
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
        }
      ]
      // Exactly one replica: a second replica would advertise the same IP and ports.
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
  dependsOn: [
    database
  ]
}]

resource api 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-api'
  location: location
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      secrets: concat([
        {
          name: 'postgres-connection-string'
          value: postgresConnectionString
        }
        {
          name: 'admin-key'
          value: adminKey
        }
      ], registrySecrets)
      registries: registries
      // HTTPS is terminated by the environment's ingress; reachable from the VNet only.
      ingress: {
        external: true
        transport: 'http'
        targetPort: 8080
        allowInsecure: false
      }
    }
    template: {
      containers: [
        {
          name: 'api'
          image: apiImage
          env: concat(clusterEnv, [
            {
              name: 'ASPNETCORE_URLS'
              value: 'http://0.0.0.0:8080'
            }
            {
              name: 'Auth__AdminKey'
              secretRef: 'admin-key'
            }
          ])
          probes: [
            {
              type: 'Readiness'
              httpGet: {
                path: '/health/ready'
                port: 8080
              }
              periodSeconds: 5
              failureThreshold: 3
              timeoutSeconds: 3
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/health/live'
                port: 8080
              }
              initialDelaySeconds: 10
              periodSeconds: 10
              failureThreshold: 3
              timeoutSeconds: 3
            }
          ]
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
        }
      ]
      scale: {
        minReplicas: apiReplicas
        maxReplicas: apiReplicas
      }
    }
  }
  dependsOn: [
    silos
  ]
}

// Optional one-shot schema migration (silos also migrate at start under an advisory lock):
//   az containerapp job start -g <group> -n <namePrefix>-migrate
resource migrate 'Microsoft.App/jobs@2024-03-01' = {
  name: '${namePrefix}-migrate'
  location: location
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 600
      replicaRetryLimit: 2
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
      secrets: concat([
        {
          name: 'postgres-connection-string'
          value: postgresConnectionString
        }
      ], registrySecrets)
      registries: registries
    }
    template: {
      containers: [
        {
          name: 'migrate'
          image: siloImage
          // Appended to the image's entrypoint `dotnet OrleansCompute.Silo.dll`.
          args: [
            'migrate'
          ]
          env: [
            {
              name: 'ConnectionStrings__Postgres'
              secretRef: 'postgres-connection-string'
            }
          ]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
    }
  }
  dependsOn: [
    database
  ]
}

@description('Private IP every silo advertises; reachable from the VNet only.')
output environmentStaticIp string = environment.properties.staticIp

@description('Default domain of the environment; create a private DNS zone of this name with a wildcard A record to environmentStaticIp to reach the Api by name.')
output environmentDefaultDomain string = environment.properties.defaultDomain

output apiFqdn string = api.properties.configuration.ingress.fqdn

output postgresHost string = postgres.properties.fullyQualifiedDomainName

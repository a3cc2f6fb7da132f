# Orleans silo image. Build from the repository root, which holds Directory.*.props and deploy/sql:
#   docker build -f deploy/docker/Silo.Dockerfile -t orleans-compute/silo .
# The same image runs a silo (default) or applies the PostgreSQL schema and exits (`migrate`).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore from the files that decide the package graph only, so a source edit reuses the
# (slow) restore layer. Central package management puts every version in Directory.Packages.props.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY Grains.Interfaces/Grains.Interfaces.csproj Grains.Interfaces/
COPY Silo/Observability/Shared/Observability.csproj Silo/Observability/Shared/
COPY Grains/Grains.csproj Grains/
COPY Silo/Silo.csproj Silo/
RUN dotnet restore Silo/Silo.csproj

# The silo embeds deploy/sql/{postgres,sqlite}/*.sql as resources, so the schema travels with it.
COPY deploy/sql/ deploy/sql/
COPY Grains.Interfaces/ Grains.Interfaces/
COPY Grains/ Grains/
COPY Silo/ Silo/
RUN dotnet publish Silo/Silo.csproj -c Release -o /app --no-restore -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app

# Embedded mode (no ConnectionStrings__Postgres) keeps its SQLite file here; /app is not
# writable by the non-root user. PostgreSQL mode never touches it.
RUN mkdir -p /var/lib/orleans-compute && chown "$APP_UID" /var/lib/orleans-compute
ENV Storage__Path=/var/lib/orleans-compute \
    Silo__HealthPort=8081

COPY --from=build /app .

# The aspnet images ship a non-root `app` user whose id is in APP_UID.
USER $APP_UID

# 11111 silo-to-silo, 30000 client gateway (both unencrypted: keep them on a private network),
# 8081 health, /metrics and /dashboard.
EXPOSE 11111 30000 8081

# The aspnet image has neither curl nor wget; bash (present in the Ubuntu-based aspnet:10.0)
# speaks just enough HTTP through its /dev/tcp redirection. Docker does not expand variables in
# HEALTHCHECK, bash does, so the check follows Silo__HealthPort.
HEALTHCHECK --interval=10s --timeout=3s --start-period=90s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${Silo__HealthPort:-8081} && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["dotnet", "OrleansCompute.Silo.dll"]

# REST API image (a stateless Orleans client). Build from the repository root:
#   docker build -f deploy/docker/Api.Dockerfile -t orleans-compute/api .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore from the files that decide the package graph only, so a source edit reuses the
# restore layer. The Api references Grains.Interfaces only, never Grains.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY Grains.Interfaces/Grains.Interfaces.csproj Grains.Interfaces/
COPY Silo/Observability/Shared/Observability.csproj Silo/Observability/Shared/
COPY Api/Api.csproj Api/
RUN dotnet restore Api/Api.csproj

COPY Grains.Interfaces/ Grains.Interfaces/
COPY Silo/Observability/Shared/ Silo/Observability/Shared/
COPY Api/ Api/
RUN dotnet publish Api/Api.csproj -c Release -o /app --no-restore -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app

# The Api's own default (127.0.0.1:5000) is unreachable from outside a container.
ENV ASPNETCORE_URLS=http://0.0.0.0:8080

COPY --from=build /app .

# The aspnet images ship a non-root `app` user whose id is in APP_UID.
USER $APP_UID

EXPOSE 8080

# No curl or wget in the aspnet image; bash's /dev/tcp is enough for one GET. The port is the
# one ASPNETCORE_URLS above sets; override the check too if you move the Api elsewhere.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["dotnet", "OrleansCompute.Api.dll"]

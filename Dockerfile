# The app image for docker-compose.yml. PostgreSQL comes from the compose file's own service
# (DATABASE_URL), so the embedded one is never started here.
FROM node:lts-slim AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma-generate.mjs scripts/
COPY prisma prisma
# Not `npm ci`: the lock file was made where only linux-x64 builds of the native optional
# packages could be fetched, and `npm ci` refuses a lock file that lacks the others.
RUN npm install --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:lts-slim
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 PORT=3000 DATA_DIR=/data
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
CMD ["node", "--import", "tsx", "scripts/start.ts"]

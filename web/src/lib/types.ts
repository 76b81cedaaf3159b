/** Shapes of the Pixa JSON API (/api/v1), as the front end reads them. */

export interface User {
  id: string;
  username: string;
  role: 'user' | 'admin';
  createdAt: string;
}

export interface Session {
  token: string;
  expiresAt: string;
  user: User;
}

export interface ImageUrls {
  thumbnail: string;
  preview: string;
  original: string;
  download: string;
}

export interface Photo {
  id: string;
  filename: string;
  mediaType: string;
  size: number;
  width: number;
  height: number;
  takenAt: string;
  uploadedAt: string;
  urls: ImageUrls;
}

export interface UploadedPhoto extends Photo {
  duplicate: boolean;
}

export interface PhotoPage {
  items: Photo[];
  nextCursor: string | null;
}

export interface Usage {
  storage: { usedBytes: number; quotaBytes: number };
  transfer: {
    day: string;
    inBytes: number;
    outBytes: number;
    usedBytes: number;
    quotaBytes: number;
    resetsAt: string;
  };
}
